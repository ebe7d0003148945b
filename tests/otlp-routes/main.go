// Command otlp-routes runs an OTLP/JSON export of coder-telemetry through the
// two OpenTelemetry Collector routes that docs/sending.md gives, with the
// Collector's own components and the configuration the guide prints, and
// prints what came out as JSON. It is the judge of tests/routes.rs: the
// guide's routes are only as good as what the real components do with the
// exporter's files.
//
//   - RED metrics: the traces go through the contrib spanmetrics connector
//     (connector/spanmetricsconnector), configured from the guide's
//     `connectors: spanmetrics:` block. The connector emits on its clock's
//     ticker (metrics_flush_interval); a fake clock ticks twice after every
//     span is in, into a consumertest sink, and each data point of the
//     calls sum and duration histogram of both flushes is printed with its
//     attributes (a cumulative calls sum reports a new series as 0 in its
//     first flush, its count from the second on).
//   - Prometheus: the metrics go through the contrib prometheusremotewrite
//     exporter (exporter/prometheusremotewriteexporter), configured from the
//     guide's `exporters: prometheusremotewrite:` block with its endpoint
//     replaced by a local httptest server that decodes each remote-write
//     request (snappy, prompb.WriteRequest) and counts its series and
//     samples. This runs twice: straight into the exporter ("exporter"), and
//     through the processors of the guide's metrics pipeline first
//     ("pipeline"; deltatocumulative is the one it may name). The translator
//     the exporter calls (pkg/translator/prometheusremotewrite FromMetrics)
//     logs what it refuses only at debug level, so it is also called
//     directly on the same data to list the metrics it refuses.
//
// Usage:
//
//	otlp-routes [-spanmetrics CONFIG.yaml] [-prometheus CONFIG.yaml] DIR
//
// DIR is a folder that `coder-telemetry export --format otlp` wrote (the
// auto, single or split layout: traces.json or traces.NNNN.json, and the
// same for metrics). Each CONFIG is a Collector configuration in YAML; a
// route whose flag is missing is not run. Output, on stdout:
//
//	{"spans": N, "points": N,
//	 "spanmetrics": {"flushes": [{"calls_temporality": 1 or 2,
//	                              "calls": [{"attributes": {...}, "value": N}, ...],
//	                              "durations": [{"attributes": {...}, "value": COUNT}, ...]},
//	                             ...]},
//	 "prometheus": {"exporter": ROUTE, "pipeline": ROUTE}}
//
// where ROUTE is {"points_to_exporter", "refused_metrics" (the translator's
// "invalid temporality" refusals, one per metrics[] entry),
// "refused_names" (distinct), "other_errors", "requests", "series",
// "samples" (excluding target_info), "target_info_samples"}. A bad
// configuration, an unreadable file or a component that fails: a message on
// stderr and exit status 1.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/golang/snappy"
	"github.com/jonboulle/clockwork"
	"github.com/open-telemetry/opentelemetry-collector-contrib/connector/spanmetricsconnector"
	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/prometheusremotewriteexporter"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/translator/prometheusremotewrite"
	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/deltatocumulativeprocessor"
	"github.com/prometheus/prometheus/prompb"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.uber.org/multierr"
	"go.yaml.in/yaml/v3"
)

type output struct {
	Spans       int                `json:"spans"`
	Points      int                `json:"points"`
	Spanmetrics *spanmetricsResult `json:"spanmetrics,omitempty"`
	Prometheus  map[string]*route  `json:"prometheus,omitempty"`
}

type spanmetricsResult struct {
	Flushes []flush `json:"flushes"`
}

// flush is what one tick of the connector's flush clock emitted.
type flush struct {
	// CallsTemporality is the calls sum's aggregationTemporality (1 delta,
	// 2 cumulative).
	CallsTemporality int     `json:"calls_temporality"`
	Calls            []point `json:"calls"`
	Durations        []point `json:"durations"`
}

// point is one data point of the connector's output: a calls sum's value,
// or a duration histogram's count.
type point struct {
	Attributes map[string]any `json:"attributes"`
	Value      uint64         `json:"value"`
}

type route struct {
	PointsToExporter  int      `json:"points_to_exporter"`
	RefusedMetrics    int      `json:"refused_metrics"`
	RefusedNames      []string `json:"refused_names"`
	OtherErrors       []string `json:"other_errors"`
	Requests          int      `json:"requests"`
	Series            int      `json:"series"`
	Samples           int      `json:"samples"`
	TargetInfoSamples int      `json:"target_info_samples"`
}

func main() {
	spanmetricsConfig := flag.String("spanmetrics", "", "a Collector configuration with connectors.spanmetrics")
	prometheusConfig := flag.String("prometheus", "", "a Collector configuration with exporters.prometheusremotewrite")
	flag.Parse()
	if flag.NArg() != 1 {
		fail(errors.New("usage: otlp-routes [-spanmetrics CONFIG] [-prometheus CONFIG] EXPORT_DIR"))
	}
	dir := flag.Arg(0)
	out := output{}

	traces := ptrace.NewTraces()
	if err := readAll(dir, "traces", func(b []byte) error {
		t, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(b)
		if err == nil {
			t.ResourceSpans().MoveAndAppendTo(traces.ResourceSpans())
		}
		return err
	}); err != nil {
		fail(err)
	}
	metrics := pmetric.NewMetrics()
	if err := readAll(dir, "metrics", func(b []byte) error {
		m, err := (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(b)
		if err == nil {
			m.ResourceMetrics().MoveAndAppendTo(metrics.ResourceMetrics())
		}
		return err
	}); err != nil {
		fail(err)
	}
	out.Spans = traces.SpanCount()
	out.Points = metrics.DataPointCount()

	if *spanmetricsConfig != "" {
		conf, err := readConfig(*spanmetricsConfig)
		if err != nil {
			fail(err)
		}
		r, err := runSpanmetrics(conf, traces)
		if err != nil {
			fail(fmt.Errorf("spanmetrics: %w", err))
		}
		out.Spanmetrics = r
	}
	if *prometheusConfig != "" {
		conf, err := readConfig(*prometheusConfig)
		if err != nil {
			fail(err)
		}
		out.Prometheus = map[string]*route{}
		for _, withProcessors := range []bool{false, true} {
			md := pmetric.NewMetrics()
			metrics.CopyTo(md)
			r, err := runPrometheus(conf, md, withProcessors)
			if err != nil {
				fail(fmt.Errorf("prometheus: %w", err))
			}
			name := "exporter"
			if withProcessors {
				name = "pipeline"
			}
			out.Prometheus[name] = r
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "otlp-routes:", err)
	os.Exit(1)
}

// readAll calls decode with each file of one signal in dir: SIGNAL.json,
// or the numbered parts SIGNAL.NNNN.json in order. No file is an error.
func readAll(dir, signal string, decode func([]byte) error) error {
	parts, err := filepath.Glob(filepath.Join(dir, signal+".[0-9]*.json"))
	if err != nil {
		return err
	}
	sort.Strings(parts)
	files := append([]string{filepath.Join(dir, signal+".json")}, parts...)
	read := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if err := decode(b); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		read++
	}
	if read == 0 {
		return fmt.Errorf("%s: no %s.json nor %s.NNNN.json", dir, signal, signal)
	}
	return nil
}

// readConfig reads a Collector configuration file (YAML) as a confmap.
func readConfig(path string) (*confmap.Conf, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var raw map[string]any
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return confmap.NewFromStringMap(raw), nil
}

// componentConfig unmarshals conf's KIND::NAME section (absent: the
// defaults) into factory's default configuration, as the Collector does
// (unknown keys are errors), and validates it.
func componentConfig(conf *confmap.Conf, kind, name string, factory component.Factory) (component.Config, error) {
	cfg := factory.CreateDefaultConfig()
	key := kind + confmap.KeyDelimiter + name
	if conf.IsSet(key) {
		sub, err := conf.Sub(key)
		if err != nil {
			return nil, err
		}
		if err := sub.Unmarshal(cfg); err != nil {
			return nil, fmt.Errorf("%s %s: %w", kind, name, err)
		}
	}
	if err := confmap.Validate(cfg); err != nil {
		return nil, fmt.Errorf("%s %s: %w", kind, name, err)
	}
	return cfg, nil
}

func telemetry() component.TelemetrySettings {
	return componenttest.NewNopTelemetrySettings()
}

// ---- RED metrics: the spanmetrics connector --------------------------------

func runSpanmetrics(conf *confmap.Conf, traces ptrace.Traces) (*spanmetricsResult, error) {
	factory := spanmetricsconnector.NewFactory()
	if !conf.IsSet("connectors::spanmetrics") {
		return nil, errors.New("the configuration has no connectors.spanmetrics")
	}
	cfg, err := componentConfig(conf, "connectors", "spanmetrics", factory)
	if err != nil {
		return nil, err
	}
	// The connector flushes on its clock's ticker (metrics_flush_interval);
	// a fake clock ticks twice, after every span is in: a cumulative calls
	// sum reports 0 for a series in its first flush and its count from the
	// second on.
	clock := clockwork.NewFakeClock()
	ctx := clockwork.AddToContext(context.Background(), clock)
	sink := new(consumertest.MetricsSink)
	set := connector.Settings{
		ID:                component.NewID(factory.Type()),
		TelemetrySettings: telemetry(),
		BuildInfo:         component.NewDefaultBuildInfo(),
	}
	c, err := factory.CreateTracesToMetrics(ctx, set, cfg, sink)
	if err != nil {
		return nil, err
	}
	if err := c.Start(ctx, componenttest.NewNopHost()); err != nil {
		return nil, err
	}
	if err := c.ConsumeTraces(ctx, traces); err != nil {
		return nil, err
	}
	interval := cfg.(*spanmetricsconnector.Config).MetricsFlushInterval
	deadline := time.Now().Add(30 * time.Second)
	for n := 1; n <= 2; n++ {
		clock.Advance(interval)
		for len(sink.AllMetrics()) < n {
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("flush %d did not come within 30 s", n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if err := c.Shutdown(ctx); err != nil {
		return nil, err
	}
	r := &spanmetricsResult{}
	for _, md := range sink.AllMetrics() {
		r.Flushes = append(r.Flushes, flushOf(md))
	}
	return r, nil
}

// flushOf reads one flush of the connector: each data point of its calls
// sum and of its duration histogram.
func flushOf(md pmetric.Metrics) flush {
	f := flush{Calls: []point{}, Durations: []point{}}
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		sms := md.ResourceMetrics().At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				switch {
				case strings.HasSuffix(m.Name(), "calls") && m.Type() == pmetric.MetricTypeSum:
					f.CallsTemporality = int(m.Sum().AggregationTemporality())
					dps := m.Sum().DataPoints()
					for l := 0; l < dps.Len(); l++ {
						v := uint64(dps.At(l).IntValue())
						if dps.At(l).ValueType() == pmetric.NumberDataPointValueTypeDouble {
							v = uint64(dps.At(l).DoubleValue())
						}
						f.Calls = append(f.Calls, point{dps.At(l).Attributes().AsRaw(), v})
					}
				case strings.HasSuffix(m.Name(), "duration") && m.Type() == pmetric.MetricTypeHistogram:
					dps := m.Histogram().DataPoints()
					for l := 0; l < dps.Len(); l++ {
						f.Durations = append(f.Durations, point{dps.At(l).Attributes().AsRaw(), dps.At(l).Count()})
					}
				case strings.HasSuffix(m.Name(), "duration") && m.Type() == pmetric.MetricTypeExponentialHistogram:
					dps := m.ExponentialHistogram().DataPoints()
					for l := 0; l < dps.Len(); l++ {
						f.Durations = append(f.Durations, point{dps.At(l).Attributes().AsRaw(), dps.At(l).Count()})
					}
				}
			}
		}
	}
	return f
}

// ---- Prometheus: the prometheusremotewrite exporter ------------------------

// remoteWrite is the Prometheus end: it decodes every remote-write request
// and counts what it holds.
type remoteWrite struct {
	mu   sync.Mutex
	r    *route
	errs []string
}

func (s *remoteWrite) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err == nil {
		body, err = snappy.Decode(nil, body)
	}
	var wr prompb.WriteRequest
	if err == nil {
		err = wr.Unmarshal(body)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.errs = append(s.errs, err.Error())
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.r.Requests++
	for _, ts := range wr.Timeseries {
		s.r.Series++
		name := ""
		for _, l := range ts.Labels {
			if l.Name == "__name__" {
				name = l.Value
			}
		}
		if name == "target_info" {
			s.r.TargetInfoSamples += len(ts.Samples)
		} else {
			s.r.Samples += len(ts.Samples)
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// processorsOf returns the processors that the configuration's metrics
// pipeline names, in order.
func processorsOf(conf *confmap.Conf) ([]string, error) {
	var service struct {
		Pipelines map[string]struct {
			Processors []string `mapstructure:"processors"`
			Exporters  []string `mapstructure:"exporters"`
		} `mapstructure:"pipelines"`
	}
	sub, err := conf.Sub("service")
	if err != nil {
		return nil, err
	}
	if err := sub.Unmarshal(&service, confmap.WithIgnoreUnused()); err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	for name, p := range service.Pipelines {
		if name == "metrics" || strings.HasPrefix(name, "metrics/") {
			for _, e := range p.Exporters {
				if e == "prometheusremotewrite" {
					return p.Processors, nil
				}
			}
		}
	}
	return nil, errors.New("no metrics pipeline exports to prometheusremotewrite")
}

func runPrometheus(conf *confmap.Conf, md pmetric.Metrics, withProcessors bool) (*route, error) {
	if !conf.IsSet("exporters::prometheusremotewrite") {
		return nil, errors.New("the configuration has no exporters.prometheusremotewrite")
	}
	rw := &remoteWrite{r: &route{RefusedNames: []string{}, OtherErrors: []string{}}}
	server := httptest.NewServer(rw)
	defer server.Close()

	// The guide's exporter, sending to the local server instead.
	if err := conf.Merge(confmap.NewFromStringMap(map[string]any{
		"exporters": map[string]any{"prometheusremotewrite": map[string]any{"endpoint": server.URL + "/api/v1/write"}},
	})); err != nil {
		return nil, err
	}
	ef := prometheusremotewriteexporter.NewFactory()
	ecfg, err := componentConfig(conf, "exporters", "prometheusremotewrite", ef)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	exp, err := ef.CreateMetrics(ctx, exporter.Settings{
		ID:                component.NewID(ef.Type()),
		TelemetrySettings: telemetry(),
		BuildInfo:         component.NewDefaultBuildInfo(),
	}, ecfg)
	if err != nil {
		return nil, err
	}
	host := componenttest.NewNopHost()
	if err := exp.Start(ctx, host); err != nil {
		return nil, err
	}

	// Before the exporter: what the translator refuses of what reaches it.
	settings := translatorSettings(ecfg.(*prometheusremotewriteexporter.Config))
	refused := map[string]bool{}
	var next consumer.Metrics
	next, err = consumer.NewMetrics(func(ctx context.Context, md pmetric.Metrics) error {
		rw.r.PointsToExporter += md.DataPointCount()
		_, terr := prometheusremotewrite.FromMetrics(md, settings)
		for _, e := range multierr.Errors(terr) {
			msg := e.Error()
			if name, ok := strings.CutPrefix(msg, "invalid temporality and type combination for metric "); ok {
				rw.r.RefusedMetrics++
				refused[strings.Trim(name, `"`)] = true
			} else {
				rw.r.OtherErrors = append(rw.r.OtherErrors, msg)
			}
		}
		return exp.ConsumeMetrics(ctx, md)
	}, consumer.WithCapabilities(consumer.Capabilities{MutatesData: false}))
	if err != nil {
		return nil, err
	}

	var started []component.Component
	if withProcessors {
		names, err := processorsOf(conf)
		if err != nil {
			return nil, err
		}
		// Built last to first, each feeding the one after it.
		for i := len(names) - 1; i >= 0; i-- {
			if names[i] != "deltatocumulative" {
				return nil, fmt.Errorf("processor %q: only deltatocumulative is known here", names[i])
			}
			pf := deltatocumulativeprocessor.NewFactory()
			pcfg, err := componentConfig(conf, "processors", names[i], pf)
			if err != nil {
				return nil, err
			}
			p, err := pf.CreateMetrics(ctx, processor.Settings{
				ID:                component.NewID(pf.Type()),
				TelemetrySettings: telemetry(),
				BuildInfo:         component.NewDefaultBuildInfo(),
			}, pcfg, next)
			if err != nil {
				return nil, err
			}
			if err := p.Start(ctx, host); err != nil {
				return nil, err
			}
			started = append(started, p)
			next = p
		}
	}

	consumeErr := next.ConsumeMetrics(ctx, md)
	for i := len(started) - 1; i >= 0; i-- {
		if err := started[i].Shutdown(ctx); err != nil {
			return nil, err
		}
	}
	// Shutdown drains the exporter's queue: every request is answered then.
	if err := exp.Shutdown(ctx); err != nil {
		return nil, err
	}
	if consumeErr != nil {
		rw.r.OtherErrors = append(rw.r.OtherErrors, consumeErr.Error())
	}
	rw.mu.Lock()
	defer rw.mu.Unlock()
	rw.r.OtherErrors = append(rw.r.OtherErrors, rw.errs...)
	for name := range refused {
		rw.r.RefusedNames = append(rw.r.RefusedNames, name)
	}
	sort.Strings(rw.r.RefusedNames)
	return rw.r, nil
}

// translatorSettings are the translator settings the exporter derives from
// its configuration, as far as they decide what is refused.
func translatorSettings(cfg *prometheusremotewriteexporter.Config) prometheusremotewrite.Settings {
	return prometheusremotewrite.Settings{
		Namespace:         cfg.Namespace,
		ExternalLabels:    cfg.ExternalLabels,
		DisableTargetInfo: !cfg.TargetInfo.Enabled,
		DisableScopeInfo:  cfg.DisableScopeInfo,
		AddMetricSuffixes: cfg.AddMetricSuffixes,
		SendMetadata:      cfg.SendMetadata,
	}
}
