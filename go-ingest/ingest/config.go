package ingest

import (
	"flag"
	"fmt"
	"net/url"
	"os"
	"time"
)

// Config is the service configuration. Every field has a flag and an
// environment variable; a flag given on the command line wins over the
// environment, which wins over the default.
type Config struct {
	NATSURL        string        // -nats-url, FOOTFALL_INGEST_NATS_URL
	NATSCreds      string        // -nats-creds, FOOTFALL_INGEST_NATS_CREDS (a .creds file)
	Listen         string        // -listen, FOOTFALL_INGEST_LISTEN
	TokenFile      string        // -token-file, FOOTFALL_INGEST_TOKEN_FILE
	BodyLimit      int64         // -body-limit, FOOTFALL_INGEST_BODY_LIMIT (bytes)
	PublishWindow  int           // -publish-window, FOOTFALL_INGEST_PUBLISH_WINDOW
	PublishTimeout time.Duration // -publish-timeout, FOOTFALL_INGEST_PUBLISH_TIMEOUT
	RetryAfter     time.Duration // -retry-after, FOOTFALL_INGEST_RETRY_AFTER
	ShutdownGrace  time.Duration // -shutdown-grace, FOOTFALL_INGEST_SHUTDOWN_GRACE
}

type envFlag struct {
	name, env, usage string
}

var configFlags = []envFlag{
	{"nats-url", "FOOTFALL_INGEST_NATS_URL", "NATS server URL(s), comma-separated"},
	{"nats-creds", "FOOTFALL_INGEST_NATS_CREDS", "NATS user credentials file (.creds); empty for none"},
	{"listen", "FOOTFALL_INGEST_LISTEN", "HTTP listen address"},
	{"token-file", "FOOTFALL_INGEST_TOKEN_FILE", "JSON file of SHA-256 token hashes per store (reloaded on SIGHUP)"},
	{"body-limit", "FOOTFALL_INGEST_BODY_LIMIT", "largest request body in bytes (413 above)"},
	{"publish-window", "FOOTFALL_INGEST_PUBLISH_WINDOW", "most JetStream async publishes in flight"},
	{"publish-timeout", "FOOTFALL_INGEST_PUBLISH_TIMEOUT", "how long a request waits for its acks"},
	{"retry-after", "FOOTFALL_INGEST_RETRY_AFTER", "Retry-After sent with 503 responses"},
	{"shutdown-grace", "FOOTFALL_INGEST_SHUTDOWN_GRACE", "how long shutdown waits for in-flight requests and publishes"},
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		NATSURL:        "nats://127.0.0.1:4222",
		Listen:         "127.0.0.1:8089",
		BodyLimit:      16 << 20,
		PublishWindow:  4096,
		PublishTimeout: 10 * time.Second,
		RetryAfter:     time.Second,
		ShutdownGrace:  30 * time.Second,
	}
}

// ParseConfig reads flags from args over the environment (getenv) over the defaults.
func ParseConfig(name string, args []string, getenv func(string) string) (Config, error) {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.StringVar(&cfg.NATSURL, "nats-url", cfg.NATSURL, "")
	fs.StringVar(&cfg.NATSCreds, "nats-creds", cfg.NATSCreds, "")
	fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "")
	fs.StringVar(&cfg.TokenFile, "token-file", cfg.TokenFile, "")
	fs.Int64Var(&cfg.BodyLimit, "body-limit", cfg.BodyLimit, "")
	fs.IntVar(&cfg.PublishWindow, "publish-window", cfg.PublishWindow, "")
	fs.DurationVar(&cfg.PublishTimeout, "publish-timeout", cfg.PublishTimeout, "")
	fs.DurationVar(&cfg.RetryAfter, "retry-after", cfg.RetryAfter, "")
	fs.DurationVar(&cfg.ShutdownGrace, "shutdown-grace", cfg.ShutdownGrace, "")
	for _, f := range configFlags {
		fl := fs.Lookup(f.name)
		fl.Usage = f.usage + " (env " + f.env + ")"
		if v := getenv(f.env); v != "" {
			if err := fl.Value.Set(v); err != nil {
				return cfg, fmt.Errorf("parsing %s=%q: %w", f.env, v, err)
			}
			fl.DefValue = v
		}
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if cfg.TokenFile == "" {
		return cfg, fmt.Errorf("parsing config: -token-file (or FOOTFALL_INGEST_TOKEN_FILE) is required")
	}
	if cfg.BodyLimit <= 0 || cfg.PublishWindow <= 0 || cfg.PublishTimeout <= 0 {
		return cfg, fmt.Errorf("parsing config: -body-limit, -publish-window and -publish-timeout must be positive")
	}
	return cfg, nil
}

// RedactURL strips credentials from NATS URLs before they are logged.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = url.User("REDACTED")
	return u.String()
}

// LookupEnv is os.Getenv, for ParseConfig.
func LookupEnv(k string) string { return os.Getenv(k) }
