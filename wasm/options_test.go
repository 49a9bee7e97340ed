package main

import (
	"strings"
	"testing"

	"fourbit/ptq"
)

func TestDecodeOptions(t *testing.T) {
	for _, tc := range []struct{ in, msg string }{
		{`{"wbits": 4, "abits": 8, "clip": "kl"}`, ""},
		{`{"wbits": "four"}`, "wbits"},
		{`{"bits": 4}`, "unknown field"},
		{`{"clip": "magic"}`, "unknown clipping"},
		{`{"abits": 0}`, "activation bits"},
		{`[1, 2]`, "options"},
		{`{`, "options"},
	} {
		o := ptq.DefaultOptions()
		err := decodeOptions(tc.in, &o)
		if tc.msg == "" {
			if err != nil || o.ActBits != 8 || o.Clip != "kl" || !o.PCBAWeights {
				t.Errorf("%s: %+v %v", tc.in, o, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: error %v, want %q", tc.in, err, tc.msg)
		}
	}
}
