package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"fourbit/internal/testenv"
)

// mp3s makes, with Debian's lame, the MP3s the audio issue names of each real clip: 64 kb/s
// (at the clip's 16 kHz) and 44.1 kHz stereo (lame resampling a two-channel copy). It returns
// the WAV and MP3 paths by clip name.
func mp3s(t *testing.T, dir string) map[string][]string {
	t.Helper()
	if _, err := exec.LookPath("lame"); err != nil {
		t.Fatalf("lame is not installed (./build.sh test installs it: apt-get install lame)")
	}
	out := map[string][]string{}
	for _, name := range []string{"yes", "no", "silence", "noise"} {
		wav := testenv.Asset("speech-commands/" + name + "_1000ms.wav")
		b, err := os.ReadFile(wav)
		if err != nil {
			t.Fatal(err)
		}
		stereo := filepath.Join(dir, name+"-stereo.wav")
		if err := os.WriteFile(stereo, stereoCopy(b), 0o644); err != nil {
			t.Fatal(err)
		}
		a, c := filepath.Join(dir, name+"-64k.mp3"), filepath.Join(dir, name+"-44k-stereo.mp3")
		for _, cmd := range [][]string{{"-b", "64", wav, a}, {"--resample", "44.1", "-m", "s", stereo, c}} {
			if b, err := exec.Command("lame", append([]string{"--quiet"}, cmd...)...).CombinedOutput(); err != nil {
				t.Fatalf("lame %v: %v\n%s", cmd, err, b)
			}
		}
		out[name] = []string{wav, a, c}
	}
	return out
}

// stereoCopy turns a 44-byte-header mono 16-bit WAV into a two-channel one (both equal).
func stereoCopy(b []byte) []byte {
	h := append([]byte(nil), b[:44]...)
	n := len(b) - 44
	put := func(at int, v uint32, size int) {
		for i := 0; i < size; i++ {
			h[at+i] = byte(v >> (8 * i))
		}
	}
	put(4, uint32(36+2*n), 4)
	put(22, 2, 2)
	put(28, 16000*4, 4)
	put(32, 4, 2)
	put(40, uint32(2*n), 4)
	for i := 44; i+1 < len(b); i += 2 {
		h = append(h, b[i], b[i+1], b[i], b[i+1])
	}
	return h
}

// TestListen: `fourbit listen` on the four real clips and their MP3s. The float network hears
// yes and silence, the noise clip's class is reported; the W8A8 and W4A8 networks name the
// float network's top class on every input; every MP3 names its WAV's class.
//
// The "no" clip: the float DS-CNN hears "go" in it (94% here; TensorFlow's own TFLite runtime
// on the same features says 94%, the benchmark's int8 model 85%, and the features equal an
// independent SciPy implementation), so the test asserts "no" is its second class rather than
// its first.
func TestListen(t *testing.T) {
	t.Setenv("FOURBIT_DATA", testenv.Asset("")) // testdata holds mlperf-tiny/kws_ref_model_float32.tflite
	files := mp3s(t, t.TempDir())
	var all []string
	for _, name := range []string{"yes", "no", "silence", "noise"} {
		all = append(all, files[name]...)
	}
	top := map[string]map[string]string{} // bits → file → top class
	for _, bits := range [][2]string{{"8", "8"}, {"4", "8"}} {
		var out, errOut bytes.Buffer
		args := append([]string{"listen", "--json", "--wbits", bits[0], "--abits", bits[1]}, all...)
		if code := run(args, &out, &errOut); code != 0 {
			t.Fatalf("listen W%sA%s: exit %d: %s", bits[0], bits[1], code, errOut.String())
		}
		var res []listenOutput
		if err := json.Unmarshal(out.Bytes(), &res); err != nil {
			t.Fatal(err)
		}
		if len(res) != len(all) {
			t.Fatalf("%d results for %d files", len(res), len(all))
		}
		key := "W" + bits[0] + "A" + bits[1]
		top[key], top["FP32"] = map[string]string{}, map[string]string{}
		for _, r := range res {
			s := r.Sound
			if len(s.MFCC) != 490 || s.Frames != 49 || s.Coefficients != 10 || len(s.Peaks) == 0 || len(s.FP32) != 3 || len(s.Quantized) != 3 {
				t.Fatalf("%s: %d MFCCs (%d×%d), %d peaks, %d/%d classes", r.File, len(s.MFCC), s.Frames, s.Coefficients, len(s.Peaks), len(s.FP32), len(s.Quantized))
			}
			base := filepath.Base(r.File)
			top["FP32"][base], top[key][base] = s.FP32[0].Name, s.Quantized[0].Name
			t.Logf("%-6s %-26s %-22s FP32 %-8s %4.1f%% (%s %4.1f%%)  %s %-8s %4.1f%%", key, base, s.Format, s.FP32[0].Name, 100*s.FP32[0].Probability,
				s.FP32[1].Name, 100*s.FP32[1].Probability, key, s.Quantized[0].Name, 100*s.Quantized[0].Probability)
			if (strings.HasPrefix(base, "no_") || strings.HasPrefix(base, "no-")) && s.FP32[0].Name != "no" && s.FP32[1].Name != "no" {
				t.Errorf("%s: the float network's top two are %s and %s, not no", base, s.FP32[0].Name, s.FP32[1].Name)
			}
		}
	}
	for name, paths := range files {
		wav := filepath.Base(paths[0])
		if want := map[string]string{"yes": "yes", "silence": "silence"}[name]; want != "" && top["FP32"][wav] != want {
			t.Errorf("%s: the float network hears %s", wav, top["FP32"][wav])
		}
		for _, p := range paths {
			f := filepath.Base(p)
			if top["FP32"][f] != top["FP32"][wav] {
				t.Errorf("%s: the float network hears %s, in the WAV %s", f, top["FP32"][f], top["FP32"][wav])
			}
			for _, key := range []string{"W8A8", "W4A8"} {
				if top[key][f] != top["FP32"][f] {
					t.Errorf("%s: %s hears %s, the float network %s", f, key, top[key][f], top["FP32"][f])
				}
			}
		}
	}
	t.Logf("the noise clip: the float network's top class is %s", top["FP32"]["noise_1000ms.wav"])
}

// TestAudioFolders: eval and quantize take a folder of sound clips, one folder per class.
func TestAudioFolders(t *testing.T) {
	t.Setenv("FOURBIT_DATA", testenv.Asset(""))
	dir := t.TempDir()
	files := mp3s(t, t.TempDir())
	for _, name := range []string{"yes", "silence"} {
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, p := range files[name] {
			b, _ := os.ReadFile(p)
			os.WriteFile(filepath.Join(dir, name, filepath.Base(p)), b, 0o644)
		}
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"eval", "--model", "kws", "--data", dir}, &out, &errOut); code != 0 {
		t.Fatalf("eval: exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "top-1 100.00%") || !strings.Contains(out.String(), "(6 images") {
		t.Errorf("eval on 3 yes and 3 silence clips (WAV, MP3s): %s", out.String())
	}
	out.Reset()
	if code := run([]string{"quantize", "--model", "kws", "--calib", dir, "--calib-images", "6", "--wbits", "4", "--abits", "8", "--data", dir}, &out, &errOut); code != 0 {
		t.Fatalf("quantize: exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "W4A8 top-1 100.00%") {
		t.Errorf("quantize W4A8 on the clips: %s", out.String()[max(0, out.Len()-300):])
	}
	// A sound folder for an image network, and a broken clip, are errors that say so.
	cats := filepath.Join(t.TempDir(), "cat")
	os.MkdirAll(cats, 0o755)
	b, _ := os.ReadFile(files["yes"][0])
	os.WriteFile(filepath.Join(cats, "yes.wav"), b, 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"eval", "--model", testenv.ResNet20(), "--data", filepath.Dir(cats)}, "MFCCs"},
		{[]string{"listen", "--model", "kws", testenv.Asset("speech-commands/COMMIT")}, "not a WAV or MP3"},
	} {
		var o, e bytes.Buffer
		if code := run(c.args, &o, &e); code == 0 || !strings.Contains(e.String(), c.want) {
			t.Errorf("%v: exit %d, %q; want an error saying %q", c.args, code, e.String(), c.want)
		}
	}
}
