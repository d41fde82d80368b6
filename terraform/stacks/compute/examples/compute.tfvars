region       = "ap-northeast-2"
name         = "shopstream"
state_bucket = "shopstream-tfstate-123456789012-ap-northeast-2"

# python -m pip wheel --no-deps -w dist .   (from the repository root)
wheel_path = "dist/shopstream-0.1.0-py3-none-any.whl"

emr_release_label       = "emr-7.9.0"
emr_core_instance_count = 2
archive_connectors      = ["users", "orders"]
connector_property_overrides = {
  "tasks.max" = "2"
}
alert_emails = ["data-oncall@example.com"]

tags = {
  Project     = "shopstream"
  Environment = "prod"
  ManagedBy   = "terraform"
}
