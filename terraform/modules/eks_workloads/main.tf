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

# Encrypted gp3 volumes (EBS CSI driver, eks module) for Logstash's persistent queues. Retain:
# a deleted claim never deletes a queue that may still hold events.
resource "kubectl_manifest" "storage_class" {
  yaml_body = yamlencode({
    apiVersion           = "storage.k8s.io/v1"
    kind                 = "StorageClass"
    metadata             = { name = var.storage_class_name, labels = { "app.kubernetes.io/part-of" = "shopstream" } }
    provisioner          = "ebs.csi.aws.com"
    reclaimPolicy        = "Retain"
    volumeBindingMode    = "WaitForFirstConsumer"
    allowVolumeExpansion = true
    parameters           = { type = "gp3", encrypted = "true" }
  })
}

# The Logstash StatefulSet, PDB, HPA, ConfigMaps and Services come from logstash/k8s/*.yaml unchanged.
resource "kubectl_manifest" "logstash" {
  for_each           = local.logstash_documents
  yaml_body          = each.value
  override_namespace = var.logstash_namespace

  depends_on = [kubectl_manifest.logstash_service_account, kubectl_manifest.endpoints, kubectl_manifest.storage_class]
}

# Security groups for pods: Logstash and the Airflow workers carry their client security group
# (the one MSK / OpenSearch / Redshift / RDS admit) next to the cluster group (DNS, probes).
resource "kubectl_manifest" "pod_security_groups" {
  for_each = {
    logstash = {
      namespace = var.logstash_namespace
      selector  = { "app.kubernetes.io/name" = "logstash", "app.kubernetes.io/instance" = "shopstream-logstash" }
      group_id  = var.client_security_group_ids["logstash"]
    }
    airflow-workers = {
      namespace = var.airflow_namespace
      selector  = { component = "worker", release = "airflow" }
      group_id  = var.client_security_group_ids["airflow-workers"]
    }
  }
  yaml_body = yamlencode({
    apiVersion = "vpcresources.k8s.aws/v1beta1"
    kind       = "SecurityGroupPolicy"
    metadata = {
      name      = "shopstream-${each.key}"
      namespace = each.value.namespace
      labels    = { "app.kubernetes.io/part-of" = "shopstream" }
    }
    spec = {
      podSelector    = { matchLabels = each.value.selector }
      securityGroups = { groupIds = [each.value.group_id, var.cluster_security_group_id] }
    }
  })

  depends_on = [kubectl_manifest.namespaces]
}

# The control plane's secrets come from Secrets Manager through External Secrets (the operator
# must be installed): SecretStore + ExternalSecrets from airflow/helm/external-secrets.yaml.
resource "kubectl_manifest" "airflow_external_secrets" {
  for_each = {
    for i, doc in split("\n---", file(var.airflow_external_secrets_file)) : tostring(i) => doc
    if trimspace(replace(doc, "/(?m)^#.*$/", "")) != ""
  }
  yaml_body          = each.value
  override_namespace = var.airflow_namespace

  depends_on = [kubectl_manifest.namespaces]
}

locals {
  # Chart value key of each component => the role its service account may assume.
  airflow_components = {
    workers      = { service_account = var.airflow_service_accounts["worker"], role_arn = var.airflow_worker_role_arn }
    apiServer    = { service_account = var.airflow_service_accounts["api_server"], role_arn = var.airflow_control_plane_role_arn }
    scheduler    = { service_account = var.airflow_service_accounts["scheduler"], role_arn = var.airflow_control_plane_role_arn }
    dagProcessor = { service_account = var.airflow_service_accounts["dag_processor"], role_arn = var.airflow_control_plane_role_arn }
    triggerer    = { service_account = var.airflow_service_accounts["triggerer"], role_arn = var.airflow_control_plane_role_arn }
  }
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

  # Exact service account names (the IRSA trust names them) and each one's own role.
  dynamic "set" {
    for_each = local.airflow_components
    content {
      name  = "${set.key}.serviceAccount.name"
      value = set.value.service_account
      type  = "string"
    }
  }

  dynamic "set" {
    for_each = local.airflow_components
    content {
      name  = "${set.key}.serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn"
      value = set.value.role_arn
      type  = "string"
    }
  }

  depends_on = [kubectl_manifest.namespaces, kubectl_manifest.endpoints, kubectl_manifest.airflow_external_secrets]
}
