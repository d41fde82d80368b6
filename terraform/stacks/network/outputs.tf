output "vpc_id" {
  description = "ID of the VPC."
  value       = module.network.vpc_id
}

output "vpc_cidr" {
  description = "CIDR block of the VPC."
  value       = module.network.vpc_cidr
}

output "azs" {
  description = "Availability zones in subnet order."
  value       = module.network.azs
}

output "private_subnet_ids" {
  description = "Private subnets, one per AZ."
  value       = module.network.private_subnet_ids
}

output "private_route_table_ids" {
  description = "Route tables of the private subnets."
  value       = module.network.private_route_table_ids
}

output "client_security_group_ids" {
  description = "Client security group per component; the data stores admit exactly these groups."
  value       = module.network.client_security_group_ids
}
