//go:build !(js && wasm)

package main

import (
	"fmt"
	"os"
)

// The browser module only runs as WebAssembly; natively, say how to build it.
func main() {
	fmt.Fprintln(os.Stderr, "fourbit/wasm is the browser module: build it with GOOS=js GOARCH=wasm (./build.sh wasm)")
	os.Exit(2)
}
