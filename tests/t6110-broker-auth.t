#!/bin/sh
# klog - kbrokerd authentication: no open network listener by mistake, credentials, the secret. MIT licence.

test_description='a non-loopback listener needs a secret or --insecure; the secret from a file or a credential'
. "$(dirname "$0")/lib.sh"

. "$TEST_DIRECTORY/lib-broker.sh"

test_expect_success 'setup' '
	mkdir -p "$KLOG_DIR" &&
	ktopic -d "$KLOG_DIR" create t &&
	echo s3cret >secret &&
	mkdir creds &&
	echo c3cret >creds/kbrokerd.secret &&
	mkdir nocreds
'

test_expect_success 'a non-loopback listener without a secret does not start (exit 2)' '
	test_expect_code 2 timeout 20 kbrokerd -d "$KLOG_DIR" -l "*:0" 2>err &&
	grep "^kbrokerd: listening on 0.0.0.0:[0-9]*, not a loopback address, without a secret: .*--insecure" err &&
	test_path_is_missing "$KLOG_DIR/kbrokerd.pid"
'

test_expect_success 'nor does an inherited one (socket activation)' '
	test_expect_code 2 timeout 20 notify-listen -a "*:0" kbrokerd -d "$KLOG_DIR" 2>err &&
	grep "not a loopback address, without a secret" err
'

test_expect_success 'loopback needs no secret, on any 127/8 address' '
	start_broker lo -l 127.0.0.2:0 &&
	KLOG_BROKERS=$lo_addr kbclient ping &&
	! grep -i "secret" lo.err &&
	stop_broker lo
'

test_expect_success '--insecure serves it, with a warning at start-up' '
	start_broker open -l "*:0" --insecure &&
	grep "^kbrokerd: warning: listening on 0.0.0.0:[0-9]*, not a loopback address, WITHOUT A SECRET (--insecure)" open.err &&
	KLOG_BROKERS=127.0.0.1:$PORT kbclient ping &&
	stop_broker open
'

test_expect_success 'with a secret it serves the network, and says nothing' '
	start_broker sec -l "*:0" -s secret &&
	! grep -i "warning" sec.err &&
	KLOG_BROKERS=127.0.0.1:$PORT test_must_fail kbclient ping 2>err &&
	grep "authentication required" err &&
	KLOG_BROKERS=127.0.0.1:$PORT kbclient -s s3cret ping &&
	stop_broker sec
'

test_expect_success 'the secret from $CREDENTIALS_DIRECTORY/kbrokerd.secret (LoadCredential=)' '
	CREDENTIALS_DIRECTORY=$TRASH/creds start_broker cred -l "*:0" &&
	KLOG_BROKERS=127.0.0.1:$PORT &&
	test_must_fail kbclient ping 2>err &&
	grep "authentication required" err &&
	test_must_fail kbclient -s s3cret ping 2>err &&
	grep "wrong secret" err &&
	kbclient -s c3cret ping &&
	stop_broker cred
'

test_expect_success '-s wins over the credential, the credential over $KLOG_SECRET' '
	CREDENTIALS_DIRECTORY=$TRASH/creds start_broker s -s secret &&
	kbclient -s s3cret ping &&
	test_must_fail kbclient -s c3cret ping 2>err &&
	stop_broker s &&
	CREDENTIALS_DIRECTORY=$TRASH/creds KLOG_SECRET=env start_broker e &&
	kbclient -s c3cret ping &&
	stop_broker e &&
	CREDENTIALS_DIRECTORY=$TRASH/nocreds KLOG_SECRET=env start_broker n &&
	kbclient -s env ping &&
	stop_broker n
'

test_expect_success 'an empty credential is a configuration error (exit 2)' '
	mkdir empty &&
	: >empty/kbrokerd.secret &&
	CREDENTIALS_DIRECTORY=$TRASH/empty test_expect_code 2 timeout 20 kbrokerd -d "$KLOG_DIR" 2>err &&
	grep "secret file .*kbrokerd.secret. is empty" err
'

test_expect_success 'only the exact secret passes: not a prefix, an extension, nor the same length' '
	start_broker x -s secret &&
	for s in s3cre s3crett s3creT S3cret s3cre0 x; do
		test_must_fail kbclient -s $s ping 2>err &&
		grep -q "wrong secret" err || return 1
	done &&
	kbclient -s s3cret ping &&
	stop_broker x
'

test_done
