region       = "ap-northeast-2"
name         = "shopstream"
state_bucket = "shopstream-tfstate-123456789012-ap-northeast-2"

kafka_version              = "3.9.x"
msk_broker_count           = 3
redshift_node_count        = 2
rds_multi_az               = true
opensearch_instance_count  = 3
opensearch_master_user_arn = "arn:aws:iam::123456789012:role/shopstream-search-admin"

tags = {
  Project     = "shopstream"
  Environment = "prod"
  ManagedBy   = "terraform"
}
