// Command otlp-receiver runs the OpenTelemetry Collector's own OTLP/HTTP
// receiver (go.opentelemetry.io/collector/receiver/otlpreceiver) on
// 127.0.0.1 with in-memory sinks from the Collector's consumertest package.
// It is the real peer of coder-telemetry's `send` tests: the same request
// parsing, decompression, body-size limit (413) and responses as a running
// Collector, with no mock in between.
//
// It prints "ready" once it listens. On SIGTERM or SIGINT it shuts down and
// writes what it accepted into -out: logs.json, traces.json, metrics.json
// (all requests merged into one OTLP/JSON envelope per signal, written by
// pdata's JSON marshaler) and counts.json (requests and records per signal).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configgrpc"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
)

func main() {
	port := flag.Int("port", 4318, "port to listen on (127.0.0.1)")
	maxBody := flag.Int64("max-request-body-size", 20<<20, "max_request_body_size in bytes")
	out := flag.String("out", ".", "folder to write what was accepted into, on shutdown")
	flag.Parse()
	if err := run(*port, *maxBody, *out); err != nil {
		fmt.Fprintln(os.Stderr, "otlp-receiver:", err)
		os.Exit(1)
	}
}

func run(port int, maxBody int64, out string) error {
	factory := otlpreceiver.NewFactory()
	cfg := factory.CreateDefaultConfig().(*otlpreceiver.Config)
	cfg.Protocols.GRPC = configoptional.None[configgrpc.ServerConfig]()
	http := cfg.Protocols.HTTP.GetOrInsertDefault()
	http.ServerConfig.NetAddr.Endpoint = fmt.Sprintf("127.0.0.1:%d", port)
	http.ServerConfig.MaxRequestBodySize = maxBody

	ctx := context.Background()
	set := receivertest.NewNopSettings(factory.Type())
	logs, traces, metrics := new(consumertest.LogsSink), new(consumertest.TracesSink), new(consumertest.MetricsSink)
	lr, err := factory.CreateLogs(ctx, set, cfg, logs)
	if err != nil {
		return err
	}
	tr, err := factory.CreateTraces(ctx, set, cfg, traces)
	if err != nil {
		return err
	}
	mr, err := factory.CreateMetrics(ctx, set, cfg, metrics)
	if err != nil {
		return err
	}
	host := componenttest.NewNopHost()
	// The three share one receiver (one server, as in a Collector).
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
	return write(out, logs, traces, metrics)
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
