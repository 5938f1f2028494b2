package watch

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/webhook"
)

type nopTrigger struct{}

func (nopTrigger) Trigger(webhook.Event) bool { return false }

// freeAddr is a loopback address no one listens on (a moment ago).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func status(t *testing.T, method, url string) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader("{}"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestServe(t *testing.T) {
	reg, m, err := NewMetricsRegistry()
	if err != nil {
		t.Fatal(err)
	}
	hooks, ops := freeAddr(t), freeAddr(t)
	tests := []struct {
		name                 string
		listen, opsListen    string
		wantServers          int
		wantHookOps, wantOps int // /healthz on the webhook address, on the ops address (0: not served)
	}{
		{"webhooks and ops on one address", hooks, "", 1, http.StatusOK, 0},
		{"separate ops address", hooks, ops, 2, http.StatusNotFound, http.StatusOK},
		{"ops only", "", ops, 1, 0, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			servers, err := Serve(ServeConfig{Listen: tt.listen, OpsListen: tt.opsListen, Secret: []byte("s3cret"), Trigger: nopTrigger{},
				Ready: func() bool { return true }, Gatherer: reg, Metrics: m}, zap.NewNop())
			if err != nil {
				t.Fatal(err)
			}
			defer Shutdown(context.Background(), servers, time.Second)
			if len(servers) != tt.wantServers {
				t.Fatalf("%d servers, want %d", len(servers), tt.wantServers)
			}
			if tt.listen != "" {
				if got := status(t, http.MethodGet, "http://"+tt.listen+"/healthz"); got != tt.wantHookOps {
					t.Errorf("/healthz on the webhook address = %d, want %d", got, tt.wantHookOps)
				}
				if got := status(t, http.MethodPost, "http://"+tt.listen+webhook.PathPrefix+"github"); got == http.StatusNotFound || got < 400 {
					t.Errorf("an unsigned webhook delivery = %d, want refused", got)
				}
			}
			if tt.opsListen != "" {
				if got := status(t, http.MethodGet, "http://"+tt.opsListen+"/metrics"); got != tt.wantOps {
					t.Errorf("/metrics on the ops address = %d, want %d", got, tt.wantOps)
				}
			}
		})
	}
}

func TestServeErrors(t *testing.T) {
	_, err := Serve(ServeConfig{Listen: freeAddr(t), Trigger: nopTrigger{}, Ready: func() bool { return true }}, zap.NewNop())
	if !errors.Is(err, webhook.ErrNoSecret) {
		t.Errorf("Serve without a secret = %v, want ErrNoSecret", err)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	if _, err := Serve(ServeConfig{OpsListen: busy.Addr().String(), Ready: func() bool { return true }}, zap.NewNop()); err == nil {
		t.Error("Serve on a busy address succeeded")
	}
}

func TestShutdownStopsServing(t *testing.T) {
	addr := freeAddr(t)
	servers, err := Serve(ServeConfig{OpsListen: addr, Ready: func() bool { return true }}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a cancelled context still gets the grace
	Shutdown(ctx, servers, time.Second)
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Error("still serving after Shutdown")
	}
}
