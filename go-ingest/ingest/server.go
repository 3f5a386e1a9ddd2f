package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/footfall/footfall/go-ingest/contract"
)

// ServerConfig configures NewHandler.
type ServerConfig struct {
	// BodyLimit is the largest request body accepted, in bytes (413 above).
	BodyLimit int64
	// RetryAfter is sent with 503 responses (rounded up to whole seconds).
	RetryAfter time.Duration
	// PublishTimeout bounds how long one request waits for its acks.
	PublishTimeout time.Duration
	// ReadyTimeout bounds the JetStream checks of GET /readyz.
	ReadyTimeout time.Duration
}

type handler struct {
	cfg     ServerConfig
	auth    Authorizer
	pub     Publisher
	metrics *Metrics
	log     *slog.Logger
	bufs    sync.Pool
}

// NewHandler returns the service's routes: POST /v1/stores/{store}/events,
// GET /healthz, GET /readyz and GET /metrics.
func NewHandler(cfg ServerConfig, auth Authorizer, pub Publisher, metrics *Metrics, log *slog.Logger) http.Handler {
	def := DefaultConfig()
	if cfg.BodyLimit <= 0 {
		cfg.BodyLimit = def.BodyLimit
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = def.RetryAfter
	}
	if cfg.PublishTimeout <= 0 {
		cfg.PublishTimeout = def.PublishTimeout
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 2 * time.Second
	}
	if metrics == nil {
		metrics = NewMetrics()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &handler{cfg: cfg, auth: auth, pub: pub, metrics: metrics, log: log}
	h.bufs.New = func() any { return new(bytes.Buffer) }
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/stores/{store}/events", h.events)
	mux.HandleFunc("GET /healthz", h.healthz)
	mux.HandleFunc("GET /readyz", h.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(metrics.Registry, promhttp.HandlerOpts{}))
	return mux
}

// batchResponse is the body of every events response that got past decoding.
type batchResponse struct {
	Stored      int      `json:"stored"`
	Duplicate   int      `json:"duplicate"`
	Rejected    int      `json:"rejected"`
	Unavailable int      `json:"unavailable"`
	Results     []Result `json:"results"`
}

// errorResponse is the body of 4xx/5xx responses that carry no results.
type errorResponse struct {
	Error string `json:"error"`
	Path  string `json:"path,omitempty"`
}

func (h *handler) writeJSON(w http.ResponseWriter, route string, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		h.log.Debug("writing response", "err", err)
	}
	h.metrics.Requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
}

func (h *handler) fail(w http.ResponseWriter, code int, err error) {
	resp := errorResponse{Error: err.Error()}
	var fe *contract.FieldError
	if errors.As(err, &fe) {
		resp.Path = fe.Path
	}
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="footfall-ingest"`)
	}
	if code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", h.retryAfter())
	}
	h.writeJSON(w, "events", code, resp)
}

// failTooLarge answers 413, for a declared or an actual body over the limit.
func (h *handler) failTooLarge(w http.ResponseWriter) {
	h.fail(w, http.StatusRequestEntityTooLarge, errors.New("body exceeds the limit of "+strconv.FormatInt(h.cfg.BodyLimit, 10)+" bytes"))
}

func (h *handler) retryAfter() string {
	secs := int((h.cfg.RetryAfter + time.Second - 1) / time.Second)
	return strconv.Itoa(max(secs, 1))
}

func bearer(r *http.Request) string {
	v := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

func (h *handler) events(w http.ResponseWriter, r *http.Request) {
	h.metrics.InFlightRequests.Inc()
	defer h.metrics.InFlightRequests.Dec()

	store := r.PathValue("store")
	if err := h.auth.Authorize(bearer(r), store); err != nil {
		code := http.StatusUnauthorized
		if errors.Is(err, ErrForbidden) {
			code = http.StatusForbidden
		}
		h.fail(w, code, err)
		return
	}
	if !contract.IsValidID(store) {
		h.fail(w, http.StatusBadRequest, contract.NewFieldError("$.store_id", "store in the URL must match [a-z0-9][a-z0-9_-]{0,31}", store, true, nil))
		return
	}
	enc, err := ParseContentType(r.Header.Get("Content-Type"))
	if err != nil {
		h.fail(w, http.StatusUnsupportedMediaType, errors.New("Content-Type must be application/json or application/msgpack"))
		return
	}
	buf := h.bufs.Get().(*bytes.Buffer)
	defer h.bufs.Put(buf)
	buf.Reset()
	if r.ContentLength > h.cfg.BodyLimit {
		h.failTooLarge(w)
		return
	}
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, h.cfg.BodyLimit)); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			h.failTooLarge(w)
			return
		}
		h.fail(w, http.StatusBadRequest, errors.New("reading body: "+err.Error()))
		return
	}
	items, err := DecodeBatch(enc, buf.Bytes(), store)
	if err != nil {
		h.fail(w, http.StatusBadRequest, err)
		return
	}

	resp := batchResponse{Results: make([]Result, len(items))}
	valid := make([]contract.Event, 0, len(items))
	slots := make([]*Result, 0, len(items))
	for i, it := range items {
		resp.Results[i].Index = i
		if it.Err == nil {
			it.Err = derivedError(it.Event)
		}
		if it.Err != nil {
			resp.Results[i].Outcome, resp.Results[i].Error = OutcomeRejected, it.Err.Error()
			continue
		}
		valid = append(valid, it.Event)
		slots = append(slots, &resp.Results[i])
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.PublishTimeout)
	defer cancel()
	pubErr := h.pub.Publish(ctx, valid, slots)
	for _, res := range resp.Results {
		switch res.Outcome {
		case OutcomeStored:
			resp.Stored++
		case OutcomeDuplicate:
			resp.Duplicate++
		case OutcomeRejected:
			resp.Rejected++
		case OutcomeUnavailable:
			resp.Unavailable++
		}
	}
	h.countOutcomes(&resp)
	code := http.StatusOK
	if pubErr != nil {
		code = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", h.retryAfter())
		h.log.Warn("publishing batch", "store", store, "err", pubErr, "unavailable", resp.Unavailable)
	}
	h.writeJSON(w, "events", code, &resp)
}

func (h *handler) countOutcomes(resp *batchResponse) {
	for o, n := range map[Outcome]int{
		OutcomeStored: resp.Stored, OutcomeDuplicate: resp.Duplicate,
		OutcomeRejected: resp.Rejected, OutcomeUnavailable: resp.Unavailable,
	} {
		if n > 0 {
			h.metrics.Events.WithLabelValues(string(o)).Add(float64(n))
		}
	}
}

func (h *handler) healthz(w http.ResponseWriter, _ *http.Request) {
	h.writeJSON(w, "healthz", http.StatusOK, map[string]string{"status": "ok"})
}

func (h *handler) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.ReadyTimeout)
	defer cancel()
	if err := h.pub.Ready(ctx); err != nil {
		w.Header().Set("Retry-After", h.retryAfter())
		h.writeJSON(w, "readyz", http.StatusServiceUnavailable, errorResponse{Error: err.Error()})
		return
	}
	h.writeJSON(w, "readyz", http.StatusOK, map[string]string{"status": "ready"})
}
