data "aws_caller_identity" "current" {}

locals {
  # One alarm per (consumer group, topic, statistic).
  lag_alarms = merge({}, [
    for group, topics in var.consumer_group_topics : merge({}, [
      for topic in topics : {
        for metric, threshold in {
          MaxOffsetLag = var.max_offset_lag_threshold
          SumOffsetLag = var.sum_offset_lag_threshold
        } : "${group}/${topic}/${metric}" => { group = group, topic = topic, metric = metric, threshold = threshold }
      }
    ]...)
  ]...)
}

module "alerts_key" {
  source             = "../kms"
  name               = "${var.name}-alerts"
  description        = "SNS alert topic of ${var.name}"
  service_principals = ["events.amazonaws.com", "cloudwatch.amazonaws.com"]
  tags               = var.tags
}

resource "aws_sns_topic" "alerts" {
  name              = "${var.name}-alerts"
  kms_master_key_id = module.alerts_key.key_arn
  tags              = var.tags
}

resource "aws_sns_topic_policy" "alerts" {
  arn = aws_sns_topic.alerts.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AlarmsAndEventsPublish"
      Effect    = "Allow"
      Principal = { Service = ["events.amazonaws.com", "cloudwatch.amazonaws.com"] }
      Action    = "sns:Publish"
      Resource  = aws_sns_topic.alerts.arn
      Condition = { StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id } }
    }]
  })
}

resource "aws_sns_topic_subscription" "email" {
  for_each  = toset(var.alert_emails)
  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = each.value
}

# Stream lag: MSK publishes consumer lag per consumer group and topic for groups that commit
# offsets (Logstash, MSK Connect). Spark Structured Streaming keeps its offsets in the checkpoint,
# so its health is covered by the EMR alarms below instead.
resource "aws_cloudwatch_metric_alarm" "lag" {
  for_each            = local.lag_alarms
  alarm_name          = "${var.name}-lag-${replace(each.key, "/", "-")}"
  alarm_description   = "${each.value.metric} of consumer group ${each.value.group} on ${each.value.topic} above ${each.value.threshold}"
  namespace           = "AWS/Kafka"
  metric_name         = each.value.metric
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "missing"
  dimensions = {
    "Cluster Name"   = var.msk_cluster_name
    "Consumer Group" = each.value.group
    "Topic"          = each.value.topic
  }
  alarm_actions = [aws_sns_topic.alerts.arn]
  ok_actions    = [aws_sns_topic.alerts.arn]
  tags          = var.tags
}

# Failed EMR steps: EMR emits a "Step Status Change" event; the rule notifies directly and its
# TriggeredRules metric drives a CloudWatch alarm (history, dashboards, OK transitions).
resource "aws_cloudwatch_event_rule" "emr_step_failed" {
  name        = "${var.name}-emr-step-failed"
  description = "EMR step of ${var.emr_cluster_id} failed"
  event_pattern = jsonencode({
    source        = ["aws.emr"]
    "detail-type" = ["EMR Step Status Change"]
    detail = {
      state     = ["FAILED"]
      clusterId = [var.emr_cluster_id]
    }
  })
  tags = var.tags
}

resource "aws_cloudwatch_event_target" "emr_step_failed" {
  rule      = aws_cloudwatch_event_rule.emr_step_failed.name
  target_id = "sns"
  arn       = aws_sns_topic.alerts.arn
}

resource "aws_cloudwatch_metric_alarm" "emr_step_failed" {
  alarm_name          = "${var.name}-emr-step-failed"
  alarm_description   = "A step (the streaming job or an Airflow batch step) failed on EMR cluster ${var.emr_cluster_id}"
  namespace           = "AWS/Events"
  metric_name         = "TriggeredRules"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  dimensions = {
    RuleName = aws_cloudwatch_event_rule.emr_step_failed.name
  }
  alarm_actions = [aws_sns_topic.alerts.arn]
  tags          = var.tags
}

resource "aws_cloudwatch_metric_alarm" "emr_apps_failed" {
  alarm_name          = "${var.name}-emr-apps-failed"
  alarm_description   = "YARN applications failed on EMR cluster ${var.emr_cluster_id}"
  namespace           = "AWS/ElasticMapReduce"
  metric_name         = "AppsFailed"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  dimensions = {
    JobFlowId = var.emr_cluster_id
  }
  alarm_actions = [aws_sns_topic.alerts.arn]
  tags          = var.tags
}
