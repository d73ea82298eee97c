#!/bin/sh
# Register drydock's service in the Keystone catalogue unless a service of
# that name and type is there already. Credentials: the admin's OS_*
# variables; OS_SERVICE_NAME, OS_SERVICE_TYPE and OS_SERVICE_DESC name it.
set -eu
existing=$(openstack service list -f value -c Name -c Type | awk -v n="$OS_SERVICE_NAME" -v t="$OS_SERVICE_TYPE" '$1 == n && $2 == t')
if [ -n "$existing" ]; then
    echo "service $OS_SERVICE_NAME ($OS_SERVICE_TYPE) is registered"
else
    openstack service create --name "$OS_SERVICE_NAME" --description "$OS_SERVICE_DESC" "$OS_SERVICE_TYPE"
fi
