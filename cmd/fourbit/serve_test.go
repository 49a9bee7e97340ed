package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

func TestPageHandler(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "index.html"), []byte("<!doctype html>"), 0o644)
	os.WriteFile(filepath.Join(dir, "m.wasm"), []byte("\x00asm"), 0o644)
	srv := httptest.NewServer(pageHandler(dir))
	defer srv.Close()
	for _, tc := range []struct{ path, ctype string }{{"/", "text/html; charset=utf-8"}, {"/m.wasm", "application/wasm"}} {
		resp, err := http.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("Content-Type") != tc.ctype || resp.Header.Get("Content-Security-Policy") != ContentSecurityPolicy {
			t.Errorf("%s: type %q, CSP %q", tc.path, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Security-Policy"))
		}
	}
}
