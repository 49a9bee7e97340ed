package main

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"path/filepath"
)

func init() {
	register("serve", "serve the page (www/) on 127.0.0.1, with a Content-Security-Policy that allows only the page's own origin", runServe)
}

// ContentSecurityPolicy lets the page load scripts, styles, workers, images and data only
// from its own origin ('wasm-unsafe-eval' lets it compile its own WebAssembly module).
const ContentSecurityPolicy = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; " +
	"connect-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; style-src 'self'; object-src 'none'; base-uri 'self'; form-action 'none'"

// pageHandler serves dir with the CSP header and no caching (a rebuilt module is picked up).
func pageHandler(dir string) http.Handler {
	mime.AddExtensionType(".wasm", "application/wasm")
	mime.AddExtensionType(".mjs", "text/javascript")
	files := http.FileServer(http.Dir(dir))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", ContentSecurityPolicy)
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})
}

func runServe(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", "[--dir www] [--addr 127.0.0.1:8080]", stderr)
	dir := fs.String("dir", "www", "directory to serve")
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on (port 0 picks a free one)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(*dir, "index.html")); err != nil {
		return fmt.Errorf("%s has no index.html (run ./build.sh serve to build the page)", *dir)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "fourbit: serving %s on http://%s/\n", *dir, ln.Addr())
	if f, ok := stdout.(*os.File); ok {
		f.Sync()
	}
	err = http.Serve(ln, pageHandler(*dir))
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
