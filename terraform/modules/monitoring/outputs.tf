output "alerts_topic_arn" {
  description = "SNS topic receiving every alarm."
  value       = aws_sns_topic.alerts.arn
}

output "lag_alarm_names" {
  description = "Names of the consumer-lag alarms."
  value       = [for a in aws_cloudwatch_metric_alarm.lag : a.alarm_name]
}

output "emr_step_failed_alarm_name" {
  description = "Name of the failed-step alarm."
  value       = aws_cloudwatch_metric_alarm.emr_step_failed.alarm_name
}
