#!/bin/sh
# Create or update drydock's admin, internal and public endpoints in the
# Keystone catalogue (region OS_REGION_NAME) so each has the URL given in
# OS_SERVICE_ENDPOINT_ADMIN, _INTERNAL and _PUBLIC. Credentials: the admin's
# OS_* variables.
set -eu
for interface in admin internal public; do
    case $interface in
        admin) url=$OS_SERVICE_ENDPOINT_ADMIN ;;
        internal) url=$OS_SERVICE_ENDPOINT_INTERNAL ;;
        public) url=$OS_SERVICE_ENDPOINT_PUBLIC ;;
    esac
    id=$(openstack endpoint list --service "$OS_SERVICE_NAME" --interface "$interface" --region "$OS_REGION_NAME" -f value -c ID | head -n 1)
    if [ -z "$id" ]; then
        openstack endpoint create --region "$OS_REGION_NAME" "$OS_SERVICE_NAME" "$interface" "$url"
    else
        openstack endpoint set --url "$url" "$id"
    fi
done
