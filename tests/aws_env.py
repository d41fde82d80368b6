"""The environment that makes ``conf/aws.yaml`` load in tests (what Terraform publishes to pods)."""

from __future__ import annotations

AWS_ENV = {
    "SHOPSTREAM_KAFKA__BOOTSTRAP_SERVERS": "b-1.example.internal:9098",
    "SHOPSTREAM_POSTGRES__HOST": "mart.example.internal",
    "SHOPSTREAM_OPENSEARCH__URL": "https://search.example.internal",
    "SHOPSTREAM_S3__LAKE_BUCKET": "acme-lake",
    "SHOPSTREAM_S3__EXPORT_BUCKET": "acme-export",
    "SHOPSTREAM_S3__ARCHIVE_BUCKET": "acme-archive",
    "SHOPSTREAM_WAREHOUSE__REDSHIFT_HOST": "wh.example.internal",
    "SHOPSTREAM_WAREHOUSE__REDSHIFT_CLUSTER_ID": "acme-wh",
    "SHOPSTREAM_WAREHOUSE__COPY_IAM_ROLE_ARN": "arn:aws:iam::123456789012:role/copy",
}
