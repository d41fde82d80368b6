# The API endpoint is private: run this stack from inside the VPC (or over VPN) from a CIDR in the
# platform stack's api_allowed_cidr_blocks. Tokens come from the AWS CLI; no kubeconfig secrets.
locals {
  cluster_name     = data.terraform_remote_state.platform.outputs.cluster_name
  cluster_endpoint = data.terraform_remote_state.platform.outputs.cluster_endpoint
  cluster_ca       = base64decode(data.terraform_remote_state.platform.outputs.cluster_ca_data)
  exec_args        = ["eks", "get-token", "--cluster-name", local.cluster_name, "--region", var.region]
}

provider "helm" {
  kubernetes {
    host                   = local.cluster_endpoint
    cluster_ca_certificate = local.cluster_ca
    exec {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "aws"
      args        = local.exec_args
    }
  }
}

provider "kubectl" {
  host                   = local.cluster_endpoint
  cluster_ca_certificate = local.cluster_ca
  load_config_file       = false
  exec {
    api_version = "client.authentication.k8s.io/v1beta1"
    command     = "aws"
    args        = local.exec_args
  }
}
