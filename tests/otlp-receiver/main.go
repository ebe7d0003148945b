// Command otlp-receiver runs the OpenTelemetry Collector's own OTLP receiver
// (go.opentelemetry.io/collector/receiver/otlpreceiver), over HTTP and, on
// request, gRPC, on 127.0.0.1 with in-memory sinks from the Collector's
// consumertest package. It is the real peer of coder-telemetry's `send`
// tests: the same request parsing, decompression, body-size limits (an
// OTLP/HTTP body over max_request_body_size is answered 400 "request body
// too large", not 413; a gRPC message over max_recv_msg_size_mib
// RESOURCE_EXHAUSTED), TLS and client-certificate checks and responses as a
// running Collector, with no mock in between.
//
// Flags:
//
//	-port N                 OTLP/HTTP on 127.0.0.1:N (default 4318); 0 turns
//	                        HTTP off, which needs -grpc-port
//	-grpc-port N            also OTLP/gRPC on 127.0.0.1:N (default 0: off)
//	-max-request-body-size B  the HTTP protocol's max_request_body_size
//	                        (default 20 MiB)
//	-grpc-max-recv-msg-size-mib M  the gRPC protocol's max_recv_msg_size_mib
//	                        (default 0: the Collector's default, 4 MiB)
//	-tls-cert PEM -tls-key PEM  serve both protocols over TLS with this
//	                        certificate chain and key (configtls.ServerConfig
//	                        cert_file and key_file, as a Collector's YAML
//	                        `tls:` block sets them)
//	-client-ca PEM          require a client certificate issued by these CAs
//	                        (mTLS: configtls client_ca_file); needs -tls-cert
//	-out DIR                where to write what was accepted (default ".")
//	-discard                decode every request and keep nothing (the
//	                        Collector's nop consumer): a peer for measuring
//	                        the sender, which writes no files on shutdown
//
// It prints "ready" once every protocol it serves listens. On SIGTERM or
// SIGINT it shuts down and writes what it accepted into -out: logs.json,
// traces.json, metrics.json (all requests, of both protocols, merged into
// one OTLP/JSON envelope per signal, written by pdata's JSON marshaler) and
// counts.json (requests and records per signal). Bad flags or a port it
// cannot listen on: a message on stderr and exit status 1, without "ready".
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configgrpc"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
)

// options are the flags.
type options struct {
	port, grpcPort, grpcMaxMiB int
	maxBody                    int64
	tlsCert, tlsKey, clientCA  string
	out                        string
	discard                    bool
}

func main() {
	var o options
	flag.IntVar(&o.port, "port", 4318, "OTLP/HTTP port on 127.0.0.1; 0 = no HTTP (needs -grpc-port)")
	flag.IntVar(&o.grpcPort, "grpc-port", 0, "OTLP/gRPC port on 127.0.0.1; 0 = no gRPC")
	flag.Int64Var(&o.maxBody, "max-request-body-size", 20<<20, "HTTP max_request_body_size in bytes")
	flag.IntVar(&o.grpcMaxMiB, "grpc-max-recv-msg-size-mib", 0, "gRPC max_recv_msg_size_mib; 0 = the Collector's default")
	flag.StringVar(&o.tlsCert, "tls-cert", "", "PEM certificate (chain): serve over TLS (needs -tls-key)")
	flag.StringVar(&o.tlsKey, "tls-key", "", "PEM private key of -tls-cert")
	flag.StringVar(&o.clientCA, "client-ca", "", "PEM CA bundle: require client certificates it issued (mTLS; needs -tls-cert)")
	flag.StringVar(&o.out, "out", ".", "folder to write what was accepted into, on shutdown")
	flag.BoolVar(&o.discard, "discard", false, "keep nothing that was accepted (no files on shutdown)")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "otlp-receiver:", err)
		os.Exit(1)
	}
}

// config is the receiver's configuration for o, set field by field as a
// Collector's YAML would set it.
func config(o options, cfg *otlpreceiver.Config) error {
	if flag.NArg() != 0 {
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	if o.port < 0 || o.port > 65535 || o.grpcPort < 0 || o.grpcPort > 65535 {
		return errors.New("ports are 0 to 65535")
	}
	if o.port == 0 && o.grpcPort == 0 {
		return errors.New("-port 0 (no HTTP) needs -grpc-port")
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return errors.New("-tls-cert and -tls-key go together")
	}
	if o.clientCA != "" && o.tlsCert == "" {
		return errors.New("-client-ca needs -tls-cert and -tls-key")
	}
	tls := configoptional.None[configtls.ServerConfig]()
	if o.tlsCert != "" {
		t := configtls.NewDefaultServerConfig()
		t.CertFile = o.tlsCert
		t.KeyFile = o.tlsKey
		// RequireAndVerifyClientCert when set.
		t.ClientCAFile = o.clientCA
		tls = configoptional.Some(t)
	}
	if o.grpcPort == 0 {
		cfg.Protocols.GRPC = configoptional.None[configgrpc.ServerConfig]()
	} else {
		grpc := cfg.Protocols.GRPC.GetOrInsertDefault()
		grpc.NetAddr.Endpoint = fmt.Sprintf("127.0.0.1:%d", o.grpcPort)
		grpc.MaxRecvMsgSizeMiB = o.grpcMaxMiB
		grpc.TLS = tls
	}
	if o.port == 0 {
		cfg.Protocols.HTTP = configoptional.None[otlpreceiver.HTTPConfig]()
	} else {
		http := cfg.Protocols.HTTP.GetOrInsertDefault()
		http.ServerConfig.NetAddr.Endpoint = fmt.Sprintf("127.0.0.1:%d", o.port)
		http.ServerConfig.MaxRequestBodySize = o.maxBody
		http.ServerConfig.TLS = tls
	}
	return nil
}

func run(o options) error {
	factory := otlpreceiver.NewFactory()
	cfg := factory.CreateDefaultConfig().(*otlpreceiver.Config)
	if err := config(o, cfg); err != nil {
		return err
	}

	ctx := context.Background()
	set := receivertest.NewNopSettings(factory.Type())
	logs, traces, metrics := new(consumertest.LogsSink), new(consumertest.TracesSink), new(consumertest.MetricsSink)
	var lc consumer.Logs = logs
	var tc consumer.Traces = traces
	var mc consumer.Metrics = metrics
	if o.discard {
		nop := consumertest.NewNop()
		lc, tc, mc = nop, nop, nop
	}
	lr, err := factory.CreateLogs(ctx, set, cfg, lc)
	if err != nil {
		return err
	}
	tr, err := factory.CreateTraces(ctx, set, cfg, tc)
	if err != nil {
		return err
	}
	mr, err := factory.CreateMetrics(ctx, set, cfg, mc)
	if err != nil {
		return err
	}
	host := componenttest.NewNopHost()
	// The three share one receiver (one server per protocol, as in a
	// Collector). Start listens before it returns, so once it has returned
	// for all three every protocol accepts connections.
	if err := lr.Start(ctx, host); err != nil {
		return err
	}
	if err := tr.Start(ctx, host); err != nil {
		return err
	}
	if err := mr.Start(ctx, host); err != nil {
		return err
	}
	fmt.Println("ready")

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
	for _, s := range []interface{ Shutdown(context.Context) error }{lr, tr, mr} {
		if err := s.Shutdown(ctx); err != nil {
			return err
		}
	}
	if o.discard {
		return nil
	}
	return write(o.out, logs, traces, metrics)
}

func write(out string, logs *consumertest.LogsSink, traces *consumertest.TracesSink, metrics *consumertest.MetricsSink) error {
	allLogs := plog.NewLogs()
	for _, l := range logs.AllLogs() {
		l.ResourceLogs().MoveAndAppendTo(allLogs.ResourceLogs())
	}
	allTraces := ptrace.NewTraces()
	for _, t := range traces.AllTraces() {
		t.ResourceSpans().MoveAndAppendTo(allTraces.ResourceSpans())
	}
	allMetrics := pmetric.NewMetrics()
	for _, m := range metrics.AllMetrics() {
		m.ResourceMetrics().MoveAndAppendTo(allMetrics.ResourceMetrics())
	}
	lb, err := (&plog.JSONMarshaler{}).MarshalLogs(allLogs)
	if err != nil {
		return err
	}
	tb, err := (&ptrace.JSONMarshaler{}).MarshalTraces(allTraces)
	if err != nil {
		return err
	}
	mb, err := (&pmetric.JSONMarshaler{}).MarshalMetrics(allMetrics)
	if err != nil {
		return err
	}
	counts, err := json.Marshal(map[string]int{
		"logs_requests":    len(logs.AllLogs()),
		"log_records":      allLogs.LogRecordCount(),
		"traces_requests":  len(traces.AllTraces()),
		"spans":            allTraces.SpanCount(),
		"metrics_requests": len(metrics.AllMetrics()),
		"data_points":      allMetrics.DataPointCount(),
	})
	if err != nil {
		return err
	}
	for name, b := range map[string][]byte{"logs.json": lb, "traces.json": tb, "metrics.json": mb, "counts.json": counts} {
		if err := os.WriteFile(filepath.Join(out, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
