locals {
  logstash_manifests = {
    for f in sort(fileset(var.logstash_manifests_dir, "*.yaml")) : f => file("${var.logstash_manifests_dir}/${f}")
  }
  # Split multi-document files; drop empty documents.
  logstash_documents = merge({}, [
    for f, body in local.logstash_manifests : {
      for i, doc in split("\n---", body) : "${f}#${i}" => doc if trimspace(replace(doc, "/(?m)^#.*$/", "")) != ""
    }
  ]...)
}

resource "kubectl_manifest" "namespaces" {
  for_each = toset(distinct([var.airflow_namespace, var.logstash_namespace]))
  yaml_body = yamlencode({
    apiVersion = "v1"
    kind       = "Namespace"
    metadata   = { name = each.key, labels = { "app.kubernetes.io/part-of" = "shopstream" } }
  })
}

# Endpoints from the other stacks' outputs, for Logstash and Airflow (no secrets: both use IRSA).
resource "kubectl_manifest" "endpoints" {
  for_each = toset(distinct([var.airflow_namespace, var.logstash_namespace]))
  yaml_body = yamlencode({
    apiVersion = "v1"
    kind       = "ConfigMap"
    metadata = {
      name      = "shopstream-endpoints"
      namespace = each.key
      labels    = { "app.kubernetes.io/part-of" = "shopstream" }
    }
    data = var.endpoints
  })

  depends_on = [kubectl_manifest.namespaces]
}

resource "kubectl_manifest" "logstash_service_account" {
  count = var.create_logstash_service_account ? 1 : 0
  yaml_body = yamlencode({
    apiVersion = "v1"
    kind       = "ServiceAccount"
    metadata = {
      name        = var.logstash_service_account
      namespace   = var.logstash_namespace
      labels      = { "app.kubernetes.io/name" = "logstash", "app.kubernetes.io/part-of" = "shopstream" }
      annotations = { "eks.amazonaws.com/role-arn" = var.logstash_role_arn }
    }
  })

  depends_on = [kubectl_manifest.namespaces]
}

# The Logstash Deployment, ConfigMaps and Service come from logstash/k8s/*.yaml unchanged.
resource "kubectl_manifest" "logstash" {
  for_each           = local.logstash_documents
  yaml_body          = each.value
  override_namespace = var.logstash_namespace

  depends_on = [kubectl_manifest.logstash_service_account, kubectl_manifest.endpoints]
}

resource "helm_release" "airflow" {
  name             = "airflow"
  namespace        = var.airflow_namespace
  create_namespace = false
  repository       = var.airflow_chart_repository
  chart            = "airflow"
  version          = var.airflow_chart_version
  timeout          = 900
  atomic           = true

  values = [file(var.airflow_values_file)]

  dynamic "set" {
    for_each = ["workers", "scheduler", "triggerer", "webserver", "apiServer", "dagProcessor"]
    content {
      name  = "${set.value}.serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn"
      value = var.airflow_role_arn
      type  = "string"
    }
  }

  depends_on = [kubectl_manifest.namespaces, kubectl_manifest.endpoints]
}
