package ingest

import (
	"fmt"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	dto "github.com/prometheus/client_model/go"
)

func mustJS(t *testing.T, nc *nats.Conn) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func mustTokens(t *testing.T) *TokenFile {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens.json")
	writeTokens(t, path, map[string][]string{tokenA: {storeA}, tokenB: {storeB}})
	tf, err := LoadTokenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return tf
}

func fmtSscanPort(clientURL string, port *int) (int, error) {
	u, err := url.Parse(clientURL)
	if err != nil {
		return 0, err
	}
	return fmt.Sscan(u.Port(), port)
}

func gaugeValue(m *Metrics) float64 {
	var out dto.Metric
	if err := m.InFlight.Write(&out); err != nil {
		return 0
	}
	return out.GetGauge().GetValue()
}
