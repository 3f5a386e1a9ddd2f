package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/footfall/footfall/go-ingest/contract"
	"github.com/footfall/footfall/go-ingest/internal/natstest"
)

const (
	storeA = "store-001"
	storeB = "store-002"
	tokenA = "token-for-store-001-aaaaaaaaaaaaaaaa"
	tokenB = "token-for-store-002-bbbbbbbbbbbbbbbb"
)

type testEnv struct {
	t       *testing.T
	srv     *server.Server
	nc      *nats.Conn
	js      jetstream.JetStream
	pub     Publisher
	metrics *Metrics
	http    *httptest.Server
	tokens  string
}

func writeTokens(t *testing.T, path string, entries map[string][]string) {
	t.Helper()
	var f tokenFileJSON
	for tok, stores := range entries {
		f.Tokens = append(f.Tokens, struct {
			SHA256 string   `json:"sha256"`
			Stores []string `json:"stores"`
			Name   string   `json:"name"`
		}{HashToken(tok), stores, "test"})
	}
	b, _ := json.Marshal(f)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// newEnv starts a real nats-server with JetStream, creates the streams of
// channels (all when nil), and serves the handler over HTTP.
func newEnv(t *testing.T, channels []contract.Channel, cfg ServerConfig) *testEnv {
	t.Helper()
	e := &testEnv{t: t, srv: natstest.StartT(t)}
	nc, err := nats.Connect(e.srv.ClientURL(), nats.ReconnectBufSize(-1), nats.ReconnectWait(50*time.Millisecond), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	e.nc = nc
	e.js, _ = jetstream.New(nc)
	if channels == nil {
		channels = contract.Channels
	}
	if len(channels) > 0 {
		if err := natstest.CreateStreams(context.Background(), e.js, channels...); err != nil {
			t.Fatal(err)
		}
	}
	e.tokens = filepath.Join(t.TempDir(), "tokens.json")
	writeTokens(t, e.tokens, map[string][]string{tokenA: {storeA}, tokenB: {storeB}})
	auth, err := LoadTokenFile(e.tokens)
	if err != nil {
		t.Fatal(err)
	}
	e.metrics = NewMetrics()
	e.pub, err = NewPublisher(nc, PublisherConfig{Window: 256, AckTimeout: 2 * time.Second}, e.metrics)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PublishTimeout == 0 {
		cfg.PublishTimeout = 3 * time.Second
	}
	e.http = httptest.NewServer(NewHandler(cfg, auth, e.pub, e.metrics, nil))
	t.Cleanup(e.http.Close)
	return e
}

type reply struct {
	code int
	hdr  http.Header
	body batchResponse
	err  errorResponse
	raw  string
}

func (e *testEnv) post(store, token, contentType string, body []byte) reply {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.http.URL+"/v1/stores/"+store+"/events", bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{code: resp.StatusCode, hdr: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	_ = json.Unmarshal(raw, &r.err)
	return r
}

func (e *testEnv) count(stream string) uint64 {
	e.t.Helper()
	s, err := e.js.Stream(context.Background(), stream)
	if err != nil {
		e.t.Fatalf("stream %s: %v", stream, err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return info.State.Msgs
}

// sampleDocs returns the Python golden vectors as generic documents, so tests
// can mutate them and encode them either way.
func sampleDocs(t testing.TB) []map[string]any {
	t.Helper()
	dir, err := contract.FindVectorsDir()
	if err != nil {
		t.Fatal(err)
	}
	var docs []map[string]any
	for _, tag := range contract.Tags {
		raw, err := os.ReadFile(filepath.Join(dir, tag+".msgpack"))
		if err != nil {
			t.Fatal(err)
		}
		v, err := contract.ReadMsgpack(raw)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, v.(map[string]any))
	}
	return docs
}

func docsOfTag(t testing.TB, tags ...string) []any {
	var out []any
	for _, d := range sampleDocs(t) {
		for _, tag := range tags {
			if d["type"] == tag {
				out = append(out, d)
			}
		}
	}
	return out
}

func encodeBatch(t testing.TB, ct string, events []any, wrap bool) []byte {
	t.Helper()
	var v any = events
	if wrap {
		v = map[string]any{"events": events}
	}
	var b []byte
	var err error
	if ct == ctJSON {
		b, err = json.Marshal(v)
	} else {
		b, err = msgpack.Marshal(v)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const (
	ctJSON    = "application/json"
	ctMsgpack = "application/msgpack"
)

func anys(docs []map[string]any) []any {
	out := make([]any, len(docs))
	for i := range docs {
		out[i] = docs[i]
	}
	return out
}

func TestPublishesEveryEventTypeOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		ct   string
		wrap bool
	}{
		{"json object batch", ctJSON, true},
		{"json bare array", ctJSON, false},
		{"msgpack object batch", ctMsgpack, true},
		{"msgpack bare array", "application/x-msgpack", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil, ServerConfig{})
			body := encodeBatch(t, tc.ct, anys(sampleDocs(t)), tc.wrap)
			r := e.post(storeA, tokenA, tc.ct, body)
			sources := len(SourceTags) // a sample of each type
			derived := len(contract.Tags) - sources
			if r.code != http.StatusOK || r.body.Stored != sources || r.body.Rejected != derived {
				t.Fatalf("first post: %d %s", r.code, r.raw)
			}
			for i, res := range r.body.Results {
				want := contract.SampleEvents()[i]
				if derivedError(want) != nil {
					// Derived events come from the processors only: refused, naming the type.
					if res.Outcome != OutcomeRejected || !strings.Contains(res.Error, "derived events come from footfall's processors") ||
						!strings.Contains(res.Error, want.Tag()) {
						t.Errorf("result %d = %+v, want %s rejected as derived", i, res, want.Tag())
					}
					continue
				}
				if res.ID != want.EventID() || res.Outcome != OutcomeStored || res.Index != i {
					t.Errorf("result %d = %+v, want stored %s", i, res, want.EventID())
				}
			}
			// Publish with duplicate message id returns the duplicate outcome.
			r = e.post(storeA, tokenA, tc.ct, body)
			if r.code != http.StatusOK || r.body.Duplicate != sources || r.body.Stored != 0 {
				t.Fatalf("second post: %d %s", r.code, r.raw)
			}
			want := map[string]uint64{"FF_TRACKS": 2, "FF_STATUS": 1, "FF_LAYOUT": 1, "FF_DERIVED": 0, "FF_ALERTS": 0, "FF_POS": 1}
			for stream, n := range want {
				if got := e.count(stream); got != n {
					t.Errorf("%s holds %d messages, want %d", stream, got, n)
				}
			}
			// The payload is the canonical MessagePack (byte-identical to the
			// Python vector) on the right subject with the event id as Nats-Msg-Id.
			s, _ := e.js.Stream(context.Background(), "FF_POS")
			msg, err := s.GetMsg(context.Background(), 1)
			if err != nil {
				t.Fatal(err)
			}
			pos := contract.SampleEvents()[12]
			canonical, _ := contract.MarshalMsgpack(pos)
			if msg.Subject != "ff.v1.store-001.pos" || msg.Header.Get(jetstream.MsgIDHeader) != pos.EventID() || !bytes.Equal(msg.Data, canonical) {
				t.Errorf("stored message %s %v %x differs from the canonical one", msg.Subject, msg.Header, msg.Data)
			}
		})
	}
}

func TestRequestFailures(t *testing.T) {
	valid := encodeBatch(t, ctJSON, docsOfTag(t, contract.TagPosTransaction), true)
	big := encodeBatch(t, ctJSON, []any{map[string]any{"type": "pos_transaction", "pad": strings.Repeat("x", 70<<10)}}, true)
	nan := docsOfTag(t, contract.TagTrackFrame)[0].(map[string]any)
	nan["tracks"].([]any)[0].(map[string]any)["x2"] = math.NaN()
	cases := []struct {
		name     string
		store    string
		token    string
		ct       string
		body     []byte
		code     int
		path     string // error path for 400s
		outcomes []Outcome
		errPaths []string
	}{
		{"no token", storeA, "", ctJSON, valid, 401, "", nil, nil},
		{"unknown token", storeA, "not-a-token", ctJSON, valid, 401, "", nil, nil},
		{"token for another store", storeA, tokenB, ctJSON, valid, 403, "", nil, nil},
		{"unsupported content type", storeA, tokenA, "text/plain", valid, 415, "", nil, nil},
		{"body over limit", storeA, tokenA, ctJSON, big, 413, "", nil, nil},
		{"malformed json", storeA, tokenA, ctJSON, []byte(`{"events": [`), 400, "$", nil, nil},
		{"malformed msgpack", storeA, tokenA, ctMsgpack, []byte{0x91, 0xc1}, 400, "$", nil, nil},
		{"events not an array", storeA, tokenA, ctJSON, []byte(`{"events": 3}`), 400, "$.events", nil, nil},
		{"no events key", storeA, tokenA, ctJSON, []byte(`{"evnts": []}`), 400, "$.events", nil, nil},
		{"batch is a string", storeA, tokenA, ctJSON, []byte(`"hello"`), 400, "$", nil, nil},
		{"empty batch", storeA, tokenA, ctJSON, []byte(`[]`), 200, "", []Outcome{}, nil},
		{"unknown type among valid", storeA, tokenA, ctJSON,
			encodeBatch(t, ctJSON, append([]any{map[string]any{"type": "pos_refund", "store_id": storeA}}, docsOfTag(t, contract.TagPosTransaction)...), true),
			200, "", []Outcome{OutcomeRejected, OutcomeStored}, []string{"$.type", ""}},
		{"store mismatch", storeB, tokenB, ctJSON, valid, 200, "", []Outcome{OutcomeRejected}, []string{"$.store_id"}},
		{"NaN coordinate", storeA, tokenA, ctMsgpack, encodeBatch(t, ctMsgpack, append([]any{nan}, docsOfTag(t, contract.TagEdgeStatus)...), false),
			200, "", []Outcome{OutcomeRejected, OutcomeStored}, []string{"$.tracks[0].x2", ""}},
		{"wrong field type", storeA, tokenA, ctJSON, []byte(`[{"type":"pos_transaction","store_id":"store-001","ts_ns":"now"}]`),
			200, "", []Outcome{OutcomeRejected}, []string{"$.ts_ns"}},
		{"event not an object", storeA, tokenA, ctJSON, []byte(`[42]`), 200, "", []Outcome{OutcomeRejected}, []string{"$"}},
	}
	e := newEnv(t, nil, ServerConfig{BodyLimit: 64 << 10})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.post(tc.store, tc.token, tc.ct, tc.body)
			if r.code != tc.code {
				t.Fatalf("status %d, want %d: %s", r.code, tc.code, r.raw)
			}
			if tc.code == 401 && r.hdr.Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate")
			}
			if tc.code >= 400 && r.err.Error == "" {
				t.Errorf("error response names no error: %s", r.raw)
			}
			if tc.path != "" && r.err.Path != tc.path {
				t.Errorf("error path %q, want %q: %s", r.err.Path, tc.path, r.raw)
			}
			if tc.outcomes == nil {
				return
			}
			if len(r.body.Results) != len(tc.outcomes) {
				t.Fatalf("%d results, want %d: %s", len(r.body.Results), len(tc.outcomes), r.raw)
			}
			for i, want := range tc.outcomes {
				res := r.body.Results[i]
				if res.Outcome != want && !(want == OutcomeStored && res.Outcome == OutcomeDuplicate) {
					t.Errorf("result %d outcome %q, want %q: %s", i, res.Outcome, want, res.Error)
				}
				if p := tc.errPaths[i]; p != "" && !strings.Contains(res.Error, "`"+p+"`") {
					t.Errorf("result %d error %q does not name %s", i, res.Error, p)
				}
			}
		})
	}
}

// TestMissingStreamPartialBatchRetry: a batch whose POS events are stored
// but whose track events have no stream gets 503 with Retry-After; after the
// stream is provisioned, retrying the same batch stores every event exactly
// once (the POS events come back as duplicates).
func TestMissingStreamPartialBatchRetry(t *testing.T) {
	e := newEnv(t, []contract.Channel{contract.ChannelPOS, contract.ChannelStatus, contract.ChannelLayout,
		contract.ChannelZones, contract.ChannelAlerts}, ServerConfig{RetryAfter: 2 * time.Second})
	body := encodeBatch(t, ctMsgpack, docsOfTag(t, contract.TagPosTransaction, contract.TagTrackFrame, contract.TagTrackClosed), true)

	if r, _ := http.Get(e.http.URL + "/readyz"); r.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("readyz %d with FF_TRACKS missing, want 503", r.StatusCode)
	}
	r := e.post(storeA, tokenA, ctMsgpack, body)
	if r.code != http.StatusServiceUnavailable || r.hdr.Get("Retry-After") != "2" {
		t.Fatalf("status %d Retry-After %q, want 503 and 2: %s", r.code, r.hdr.Get("Retry-After"), r.raw)
	}
	if r.body.Stored != 1 || r.body.Unavailable != 2 {
		t.Fatalf("want 1 stored (pos) and 2 unavailable (tracks): %s", r.raw)
	}
	if err := natstest.CreateStreams(context.Background(), e.js, contract.ChannelTracks); err != nil {
		t.Fatal(err)
	}
	if r, _ := http.Get(e.http.URL + "/readyz"); r.StatusCode != http.StatusOK {
		t.Fatalf("readyz %d after provisioning, want 200", r.StatusCode)
	}
	r = e.post(storeA, tokenA, ctMsgpack, body)
	if r.code != http.StatusOK || r.body.Stored != 2 || r.body.Duplicate != 1 {
		t.Fatalf("retry: %d %s", r.code, r.raw)
	}
	if e.count("FF_POS") != 1 || e.count("FF_TRACKS") != 2 {
		t.Fatalf("streams hold pos=%d tracks=%d, want 1 and 2", e.count("FF_POS"), e.count("FF_TRACKS"))
	}
}

// TestServerDownThenRetry: with the NATS server gone the request fails fast
// with 503 and writes nothing; after a restart the same batch is stored once.
func TestServerDownThenRetry(t *testing.T) {
	dir := t.TempDir()
	srv, err := natstest.Start(dir, -1)
	if err != nil {
		t.Fatal(err)
	}
	e := &testEnv{t: t, srv: srv}
	nc, err := nats.Connect(srv.ClientURL(), nats.ReconnectBufSize(-1), nats.ReconnectWait(50*time.Millisecond), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	e.nc, e.js = nc, mustJS(t, nc)
	if err := natstest.CreateStreams(context.Background(), e.js); err != nil {
		t.Fatal(err)
	}
	auth := mustTokens(t)
	e.pub, _ = NewPublisher(nc, PublisherConfig{Window: 64, AckTimeout: time.Second}, nil)
	e.http = httptest.NewServer(NewHandler(ServerConfig{PublishTimeout: 2 * time.Second}, auth, e.pub, nil, nil))
	defer e.http.Close()

	body := encodeBatch(t, ctJSON, docsOfTag(t, contract.TagPosTransaction, contract.TagEdgeStatus), true)
	clientURL := srv.ClientURL()
	srv.Shutdown()
	srv.WaitForShutdown()
	r := e.post(storeA, tokenA, ctJSON, body)
	if r.code != http.StatusServiceUnavailable || r.hdr.Get("Retry-After") == "" || r.body.Unavailable != 2 {
		t.Fatalf("with server down: %d %s", r.code, r.raw)
	}
	if resp, _ := http.Get(e.http.URL + "/readyz"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("readyz %d with server down", resp.StatusCode)
	}
	var portNum int
	if _, err := fmtSscanPort(clientURL, &portNum); err != nil {
		t.Fatal(err)
	}
	srv2, err := natstest.Start(dir, portNum)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { srv2.Shutdown(); srv2.WaitForShutdown() }()
	deadline := time.Now().Add(10 * time.Second)
	for nc.Status() != nats.CONNECTED && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	e.js = mustJS(t, nc)
	r = e.post(storeA, tokenA, ctJSON, body)
	if r.code != http.StatusOK || r.body.Stored != 2 {
		t.Fatalf("after restart: %d %s", r.code, r.raw)
	}
	r = e.post(storeA, tokenA, ctJSON, body)
	if r.code != http.StatusOK || r.body.Duplicate != 2 {
		t.Fatalf("retry after restart: %d %s", r.code, r.raw)
	}
	if e.count("FF_POS") != 1 || e.count("FF_STATUS") != 1 {
		t.Fatalf("want each event stored once")
	}
}

func TestGracefulShutdownDrainsInFlight(t *testing.T) {
	e := newEnv(t, nil, ServerConfig{})
	// A real http.Server so Shutdown semantics apply.
	auth := mustTokens(t)
	hs := httptest.NewUnstartedServer(NewHandler(ServerConfig{}, auth, e.pub, e.metrics, nil))
	hs.Start()
	defer hs.Close()
	var events []any
	for i := 0; i < 2000; i++ {
		d := docsOfTag(t, contract.TagTrackFrame)[0].(map[string]any)
		d["frame_seq"] = int64(i)
		events = append(events, d)
	}
	body := encodeBatch(t, ctMsgpack, events, true)
	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, hs.URL+"/v1/stores/store-001/events", bytes.NewReader(body))
		req.Header.Set("Content-Type", ctMsgpack)
		req.Header.Set("Authorization", "Bearer "+tokenA)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- -1
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	deadline := time.Now().Add(5 * time.Second)
	for gaugeValue(e.metrics) == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Microsecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Config.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.pub.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if code := <-done; code != http.StatusOK {
		t.Fatalf("in-flight request ended with %d, want 200", code)
	}
	nc, _ := nats.Connect(e.srv.ClientURL())
	defer nc.Close()
	e.js = mustJS(t, nc)
	if n := e.count("FF_TRACKS"); n != 2000 {
		t.Fatalf("FF_TRACKS holds %d, want 2000 after drain", n)
	}
}

func TestTokenReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	writeTokens(t, path, map[string][]string{tokenA: {storeA}})
	tf, err := LoadTokenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name    string
		rewrite func()
		token   string
		store   string
		want    error
		reload  bool
	}{
		{"initial token works", nil, tokenA, storeA, nil, false},
		{"other store forbidden", nil, tokenA, storeB, ErrForbidden, false},
		{"new token unknown before reload", func() { writeTokens(t, path, map[string][]string{tokenB: {storeA, storeB}}) }, tokenB, storeB, ErrUnauthenticated, false},
		{"new token after reload", nil, tokenB, storeB, nil, true},
		{"old token revoked after reload", nil, tokenA, storeA, ErrUnauthenticated, false},
		{"bad file keeps previous tokens", func() { os.WriteFile(path, []byte(`{"tokens": [{"sha256": "zz"}]}`), 0o600) }, tokenB, storeA, nil, true},
		{"no token", nil, "", storeA, ErrUnauthenticated, false},
	}
	for _, s := range steps {
		if s.rewrite != nil {
			s.rewrite()
		}
		if s.reload {
			_ = tf.Reload()
		}
		if err := tf.Authorize(s.token, s.store); err != s.want {
			t.Errorf("%s: Authorize = %v, want %v", s.name, err, s.want)
		}
	}
}

func TestHealthAndMetrics(t *testing.T) {
	e := newEnv(t, nil, ServerConfig{})
	e.post(storeA, tokenA, ctJSON, encodeBatch(t, ctJSON, docsOfTag(t, contract.TagPosTransaction), true))
	for path, want := range map[string][]string{
		"/healthz": {"ok"},
		"/readyz":  {"ready"},
		"/metrics": {"footfall_ingest_requests_total", `footfall_ingest_events_total{outcome="stored"} 1`,
			"footfall_ingest_publish_batch_seconds", "footfall_ingest_publish_inflight"},
	} {
		resp, err := http.Get(e.http.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
		for _, w := range want {
			if !strings.Contains(string(b), w) {
				t.Errorf("%s lacks %q", path, w)
			}
		}
	}
}
