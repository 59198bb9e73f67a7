#!/bin/sh
# The RabbitMQ users of a production leadgen and what each may do, set through the management
# HTTP API (idempotent: run it again after changing a password). docker-compose.yml runs it once
# RabbitMQ is healthy; run it by hand against any other broker.
#
#   worker     leadgen's own user: declares the leadgen.* topology, consumes and publishes.
#   billing    the billing service: may publish leadgen.credits.* (and only that) to
#              leadgen.commands, and read the answers on leadgen.events.
#   services   every other service: may publish leadgen.start, .resume and .cancel, never a
#              grant (RabbitMQ refuses it), and read leadgen.events.
#   operator   people at the management UI and `leadgen dead`: sees and replays leadgen.*.
#
# Grants are also checked by the worker: set LEADGEN_GRANT_USERS to the billing user.
# A client that sets the AMQP user_id property gets it checked by RabbitMQ against its login.
set -eu

: "${RABBITMQ_API:=http://127.0.0.1:15672}"        # the management API
: "${RABBITMQ_USER:?the management administrator}"
: "${RABBITMQ_PASSWORD:?its password}"
: "${LEADGEN_VHOST:=/}"
: "${LEADGEN_WORKER_USER:=leadgen-worker}"
: "${LEADGEN_BILLING_USER:=leadgen-billing}"
: "${LEADGEN_SERVICES_USER:=leadgen-services}"
: "${LEADGEN_OPERATOR_USER:=leadgen-operator}"
: "${LEADGEN_WORKER_PASSWORD:?}"
: "${LEADGEN_BILLING_PASSWORD:?}"
: "${LEADGEN_SERVICES_PASSWORD:?}"
: "${LEADGEN_OPERATOR_PASSWORD:?}"

vhost=$(printf %s "$LEADGEN_VHOST" | sed 's|/|%2F|g')

api() {  # api METHOD PATH JSON
    curl --silent --show-error --fail-with-body --user "$RABBITMQ_USER:$RABBITMQ_PASSWORD" \
        --request "$1" --header "content-type: application/json" --data "$3" \
        "$RABBITMQ_API/api$2" >/dev/null
}

user() {  # user NAME PASSWORD TAGS
    api PUT "/users/$1" "{\"password\": \"$2\", \"tags\": \"$3\"}"
}

# permissions USER CONFIGURE WRITE READ: regular expressions over exchange and queue names.
permissions() {
    api PUT "/permissions/$vhost/$1" \
        "{\"configure\": \"$2\", \"write\": \"$3\", \"read\": \"$4\"}"
}

# commands USER WRITE: which routing keys USER may publish to leadgen.commands.
commands() {
    api PUT "/topic-permissions/$vhost/$1" \
        "{\"exchange\": \"leadgen.commands\", \"write\": \"$2\", \"read\": \".*\"}"
}

api PUT "/vhosts/$vhost" "{}"

user "$LEADGEN_WORKER_USER" "$LEADGEN_WORKER_PASSWORD" ""
permissions "$LEADGEN_WORKER_USER" '^leadgen\\..*' '^(leadgen\\..*|amq\\.default)$' '^leadgen\\..*'

# Senders of commands declare nothing but the queue their answers come to (leadgen.watch.*).
answers_configure='^leadgen\\.watch\\..*'
answers_write='^(leadgen\\.commands|leadgen\\.watch\\..*)$'
answers_read='^(leadgen\\.events|leadgen\\.watch\\..*)$'

user "$LEADGEN_BILLING_USER" "$LEADGEN_BILLING_PASSWORD" ""
permissions "$LEADGEN_BILLING_USER" "$answers_configure" "$answers_write" "$answers_read"
commands "$LEADGEN_BILLING_USER" '^leadgen\\.credits\\..*'

user "$LEADGEN_SERVICES_USER" "$LEADGEN_SERVICES_PASSWORD" ""
permissions "$LEADGEN_SERVICES_USER" "$answers_configure" "$answers_write" "$answers_read"
commands "$LEADGEN_SERVICES_USER" '^leadgen\\.(start|resume|cancel)$'

user "$LEADGEN_OPERATOR_USER" "$LEADGEN_OPERATOR_PASSWORD" "management"
permissions "$LEADGEN_OPERATOR_USER" '^leadgen\\..*' '^(leadgen\\..*|amq\\.default)$' '^leadgen\\..*'
commands "$LEADGEN_OPERATOR_USER" '^leadgen\\.(start|resume|cancel)$'

echo "leadgen users ready on vhost $LEADGEN_VHOST: $LEADGEN_WORKER_USER, $LEADGEN_BILLING_USER," \
    "$LEADGEN_SERVICES_USER, $LEADGEN_OPERATOR_USER"
