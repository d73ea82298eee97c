#!/bin/sh
# Create (or update the password of) drydock's Keystone service user and
# give it its role on its project. Credentials: the admin's OS_* variables;
# the user's come as SERVICE_OS_* (USERNAME, PASSWORD, USER_DOMAIN_NAME,
# PROJECT_NAME, PROJECT_DOMAIN_NAME, ROLE).
set -eu
openstack project create --or-show --domain "$SERVICE_OS_PROJECT_DOMAIN_NAME" "$SERVICE_OS_PROJECT_NAME" >/dev/null
user=$(openstack user create --or-show -f value -c id --domain "$SERVICE_OS_USER_DOMAIN_NAME" \
    --password "$SERVICE_OS_PASSWORD" "$SERVICE_OS_USERNAME")
# --or-show leaves an existing user's password as it was: set it.
openstack user set --password "$SERVICE_OS_PASSWORD" "$user"
openstack role create --or-show "$SERVICE_OS_ROLE" >/dev/null
openstack role add --project "$SERVICE_OS_PROJECT_NAME" --project-domain "$SERVICE_OS_PROJECT_DOMAIN_NAME" \
    --user "$user" "$SERVICE_OS_ROLE"
echo "user $SERVICE_OS_USERNAME has $SERVICE_OS_ROLE on $SERVICE_OS_PROJECT_NAME"
