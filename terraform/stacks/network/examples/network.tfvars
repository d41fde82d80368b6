region             = "ap-northeast-2"
name               = "shopstream"
vpc_cidr           = "10.40.0.0/16"
availability_zones = ["ap-northeast-2a", "ap-northeast-2b", "ap-northeast-2c"]
single_nat_gateway = false
tags = {
  Project     = "shopstream"
  Environment = "prod"
  ManagedBy   = "terraform"
}
