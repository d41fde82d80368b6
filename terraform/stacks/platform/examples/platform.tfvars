region       = "ap-northeast-2"
name         = "shopstream"
state_bucket = "shopstream-tfstate-123456789012-ap-northeast-2"

kubernetes_version      = "1.33"
api_allowed_cidr_blocks = ["10.40.0.0/16"] # e.g. the VPC (an in-VPC CI runner or SSM bastion)

tags = {
  Project     = "shopstream"
  Environment = "prod"
  ManagedBy   = "terraform"
}
