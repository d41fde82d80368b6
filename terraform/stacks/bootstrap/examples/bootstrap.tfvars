region = "ap-northeast-2"
name   = "shopstream"
tags = {
  Project     = "shopstream"
  Environment = "prod"
  ManagedBy   = "terraform"
}
