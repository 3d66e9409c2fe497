set -eu
sed -i '0,/key: password/s//key: pasword/' workloads/orders.yaml
git commit -qam "typo in a secretKeyRef key"
