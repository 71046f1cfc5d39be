package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestHealthz(t *testing.T) {
	rec := httptest.NewRecorder()
	newMux(time.Now()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "ok\n" {
		t.Fatalf("GET /healthz = %d %q, want 200 \"ok\\n\"", rec.Code, rec.Body.String())
	}
}

func TestInfo(t *testing.T) {
	rec := httptest.NewRecorder()
	newMux(time.Now()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/info", nil))
	var got info
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("GET /api/info: %v (body %q)", err, rec.Body.String())
	}
	if got.Service != "hello" || got.Version != version || got.GoVersion == "" {
		t.Fatalf("GET /api/info = %+v", got)
	}
}

func TestPostIsNotAllowed(t *testing.T) {
	rec := httptest.NewRecorder()
	newMux(time.Now()).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/healthz", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST /healthz = %d, want 405", rec.Code)
	}
}
