#!/bin/sh
# Creates the Secrets of the dev overlay (overlays/dev) in its namespace,
# with random passwords (openssl rand -hex: URL-safe, as the URLs and the
# init Jobs require). Nothing is printed and nothing stays on disk: the
# values live in the Secrets only (`kubectl -n agensium-dev get secret
# agensium-api -o jsonpath='{.data.database-url}' | base64 -d` to read one).
#
#   deploy/kubernetes/dev-secrets.sh [NAMESPACE]     (default: agensium-dev)
#
# CLUSTER_DOMAIN (default cluster.local) goes into KEDA's MySQL address: its
# operator runs in its own namespace and needs the full name.
#
# Run it once, after creating the namespace and before (or after) applying
# the overlay. When every Secret exists already it changes nothing; when
# only some do, it stops: MariaDB keeps the passwords of its first start,
# so start over with `kubectl delete namespace agensium-dev`.
#
#   Secret           keys                                 used by
#   agensium-api     database-url redis-url aws-credentials  the api
#   agensium-worker  database-url redis-url aws-credentials  the workers
#   agensium-keda    connection-string                    KEDA's mysql trigger
#   agensium-mysql   root-password password               MariaDB, mysql-grants
#   agensium-redis   users.acl                            Redis
#   agensium-minio   root-user root-password              MinIO, minio-init
set -eu

ns=${1:-agensium-dev}
domain=${CLUSTER_DOMAIN:-cluster.local}
secrets="agensium-api agensium-worker agensium-keda agensium-mysql agensium-redis agensium-minio"

for tool in kubectl openssl; do
  command -v "$tool" >/dev/null 2>&1 || { echo "dev-secrets.sh: $tool is not installed" >&2; exit 1; }
done
kubectl get namespace "$ns" >/dev/null 2>&1 || {
  echo "dev-secrets.sh: no namespace $ns: kubectl apply -f deploy/kubernetes/overlays/dev/namespace.yaml" >&2
  exit 1
}

present=""
missing=""
for s in $secrets; do
  if kubectl -n "$ns" get secret "$s" >/dev/null 2>&1; then
    present="$present $s"
  else
    missing="$missing $s"
  fi
done
if [ -z "$missing" ]; then
  echo "dev-secrets.sh: the Secrets exist already in $ns; nothing to do"
  exit 0
fi
if [ -n "$present" ]; then
  echo "dev-secrets.sh: some Secrets exist already in $ns ($present), others do not ($missing)." >&2
  echo "Start over with: kubectl delete namespace $ns" >&2
  exit 1
fi

umask 077
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
trap 'exit 1' INT TERM

pw() { openssl rand -hex 24; }
# Writes $2 into the file $dir/$1, without a trailing newline.
put() { printf '%s' "$2" > "$dir/$1"; }

mysql_root=$(pw)
mysql_api=$(pw)      # the `agensium` account (MariaDB's entrypoint creates it)
mysql_worker=$(pw)   # agensium_worker (mysql-grants)
mysql_keda=$(pw)     # agensium_keda (mysql-grants): SELECT on the view backlog
redis=$(pw)          # the Redis ACL user `agensium`
minio_root=$(pw)
s3_api=$(pw)         # S3 user agensium-api (minio-init)
s3_worker=$(pw)      # S3 user agensium-worker (minio-init)

put mysql-root-password "$mysql_root"
put mysql-password "$mysql_api"

# Redis keeps the password's SHA-256 only (`#<hex>`); the rules are
# docker-compose.yml's.
redis_hash=$(printf '%s' "$redis" | openssl dgst -sha256 | awk '{print $NF}')
printf 'user default off\nuser agensium on #%s ~agensium:* &agensium:* +@all -@dangerous -@admin +client|setinfo\n' \
  "$redis_hash" > "$dir/users.acl"

put minio-root-user agensium
put minio-root-password "$minio_root"

put api-database-url "mysql://agensium:$mysql_api@mysql:3306/agensium"
put worker-database-url "mysql://agensium_worker:$mysql_worker@mysql:3306/agensium"
put redis-url "redis://agensium:$redis@redis:6379"
printf '[default]\naws_access_key_id = agensium-api\naws_secret_access_key = %s\n' "$s3_api" \
  > "$dir/api-aws-credentials"
printf '[default]\naws_access_key_id = agensium-worker\naws_secret_access_key = %s\n' "$s3_worker" \
  > "$dir/worker-aws-credentials"
# A Go MySQL DSN (KEDA's mysql scaler).
put keda-connection-string "agensium_keda:$mysql_keda@tcp(mysql.$ns.svc.$domain:3306)/agensium"

create() {
  name=$1
  shift
  kubectl -n "$ns" create secret generic "$name" "$@" >/dev/null
  kubectl -n "$ns" label secret "$name" \
    app.kubernetes.io/name=agensium app.kubernetes.io/part-of=agensium >/dev/null
  echo "secret/$name created in $ns"
}

create agensium-api \
  --from-file=database-url="$dir/api-database-url" \
  --from-file=redis-url="$dir/redis-url" \
  --from-file=aws-credentials="$dir/api-aws-credentials"
create agensium-worker \
  --from-file=database-url="$dir/worker-database-url" \
  --from-file=redis-url="$dir/redis-url" \
  --from-file=aws-credentials="$dir/worker-aws-credentials"
create agensium-keda \
  --from-file=connection-string="$dir/keda-connection-string"
create agensium-mysql \
  --from-file=root-password="$dir/mysql-root-password" \
  --from-file=password="$dir/mysql-password"
create agensium-redis \
  --from-file=users.acl="$dir/users.acl"
create agensium-minio \
  --from-file=root-user="$dir/minio-root-user" \
  --from-file=root-password="$dir/minio-root-password"
