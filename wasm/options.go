package main

import (
	"bytes"
	"encoding/json"
	"fmt"

	"fourbit/ptq"
)

// defaultOptions is ptq.DefaultOptions: the JavaScript object has the same fields, by their
// JSON names (wbits, abits, clip, pcba_w, …).
func defaultOptions() ptq.Options { return ptq.DefaultOptions() }

// decodeOptions reads a JSON object onto opts: unknown fields and wrong types are errors,
// and the result is validated.
func decodeOptions(s string, opts *ptq.Options) error {
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(opts); err != nil {
		return fmt.Errorf("options: %w", err)
	}
	return opts.Validate()
}
