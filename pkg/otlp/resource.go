// The resources spans and metrics are sent under: one per service.
package otlp

import (
	"context"
	"os"

	"github.com/sirupsen/logrus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// scopeName names the instrumentation scope of every span.
const scopeName = "httptrace"

// resources makes and keeps the resource of each service: service.name,
// what OTEL_RESOURCE_ATTRIBUTES adds, the host and the SDK. The first
// MaxServices are kept; later ones are made for each batch.
type resources struct {
	log  logrus.FieldLogger
	kept map[string]*resourcepb.Resource
}

func newResources(log logrus.FieldLogger) *resources {
	return &resources{log: log, kept: map[string]*resourcepb.Resource{}}
}

// of is service's resource.
func (r *resources) of(service string) *resourcepb.Resource {
	if res, ok := r.kept[service]; ok {
		return res
	}
	sdk := newResource(service, r.log)
	res := &resourcepb.Resource{}
	for _, kv := range sdk.Attributes() {
		res.Attributes = append(res.Attributes, keyValue(kv))
	}
	if len(r.kept) < MaxServices {
		r.kept[service] = res
	}
	return res
}

// newResource is service's resource: service.name, what
// OTEL_RESOURCE_ATTRIBUTES adds, the host and the SDK, and the host's
// name as service.instance.id (unless OTEL_RESOURCE_ATTRIBUTES sets one):
// the service's series from two hosts are two series.
func newResource(service string, log logrus.FieldLogger) *resource.Resource {
	var instance []attribute.KeyValue
	if host, err := os.Hostname(); err == nil {
		instance = append(instance, attribute.String("service.instance.id", host))
	}
	res, err := resource.New(context.Background(), resource.WithAttributes(instance...), resource.WithFromEnv(),
		resource.WithHost(), resource.WithTelemetrySDK(), resource.WithAttributes(attribute.String("service.name", service)))
	if err != nil {
		// A partial resource (a bad OTEL_RESOURCE_ATTRIBUTES entry) is
		// still one.
		log.WithError(err).WithField("service", service).Debug("OTLP resource")
	}
	return res
}

// group puts a batch's spans under their services' resources, the
// services in the order they came: a ScopeSpans for each chunk, holding
// its bytes (not a copy), so the chunks must wait until the request has
// been marshalled.
func (r *resources) group(batch []*chunk) []*tracepb.ResourceSpans {
	at := map[string]int{}
	var out []*tracepb.ResourceSpans
	for _, c := range batch {
		i, ok := at[c.service]
		if !ok {
			i = len(out)
			at[c.service] = i
			out = append(out, &tracepb.ResourceSpans{Resource: r.of(c.service)})
		}
		out[i].ScopeSpans = append(out[i].ScopeSpans, scopeSpans(c.spans))
	}
	return out
}

// keyValue is an attribute in OTLP's form.
func keyValue(kv attribute.KeyValue) *commonpb.KeyValue {
	v := &commonpb.AnyValue{}
	switch kv.Value.Type() {
	case attribute.BOOL:
		v.Value = &commonpb.AnyValue_BoolValue{BoolValue: kv.Value.AsBool()}
	case attribute.INT64:
		v.Value = &commonpb.AnyValue_IntValue{IntValue: kv.Value.AsInt64()}
	case attribute.FLOAT64:
		v.Value = &commonpb.AnyValue_DoubleValue{DoubleValue: kv.Value.AsFloat64()}
	default:
		v.Value = &commonpb.AnyValue_StringValue{StringValue: kv.Value.Emit()}
	}
	return &commonpb.KeyValue{Key: string(kv.Key), Value: v}
}
