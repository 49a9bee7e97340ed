// Command fourbit quantizes trained convolutional networks to 4-bit weights and activations
// after training (Banner, Nahshan & Soudry, NeurIPS 2019) and measures what each method buys.
//
// Usage:
//
//	fourbit <command> [flags]
//
// Run "fourbit help" for the list of commands and "fourbit <command> -h" for their flags.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
)

// command is one subcommand of the CLI.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{}

func register(name, summary string, run func(args []string, stdout, stderr io.Writer) error) {
	commands[name] = command{summary, run}
}

// main runs the CLI. With FOURBIT_CPUPROFILE=FILE in the environment it also writes a CPU
// profile of the whole command to FILE (for `go tool pprof`), which is how the kernels' share
// of a command's time is measured.
func main() {
	if path := os.Getenv("FOURBIT_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "fourbit: FOURBIT_CPUPROFILE: %v\n", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(os.Stderr, "fourbit: FOURBIT_CPUPROFILE: %v\n", err)
			os.Exit(1)
		}
		code := run(os.Args[1:], os.Stdout, os.Stderr)
		pprof.StopCPUProfile()
		f.Close()
		os.Exit(code)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the CLI and returns its exit status: 0 on success, 2 for a usage error, 1 for
// any other failure.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "fourbit: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	if err := cmd.run(args[1:], stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "fourbit %s: %v\n", args[0], err)
		var ue usageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "fourbit: post-training 4-bit quantization of convolutional networks")
	fmt.Fprintln(w, "\nUsage: fourbit <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'fourbit <command> -h' for a command's flags.")
}

// usageError marks an error in the command line (exit status 2).
type usageError struct{ error }

// newFlags returns a flag set that reports errors instead of exiting.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	inputShape, modelFlags = nil, modelFlagValues{}
	fs.Var(&inputShape, "input-shape", "the input's sizes after the batch axis, for models that leave them open (ONNX): CxHxW, TxF or F, e.g. 3x224x224")
	fs.StringVar(&modelFlags.labels, "labels", "", "class labels of the model's outputs, one per line (what data folders are matched against)")
	fs.StringVar(&modelFlags.names, "names", "", "human-readable class names, one per line")
	threads = 0
	fs.IntVar(&threads, "threads", 0, "threads to compute on (default: every core, GOMAXPROCS)")
	fs.StringVar(&modelFlags.preprocess, "preprocess", "", "the model's input preprocessing: mean=M,std=S,resize=crop|stretch|central,crop=F (e.g. mean=0.5,std=0.5,resize=central,crop=0.875)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: fourbit %s %s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, turning flag errors into usage errors; it takes no positional argument.
func parse(fs *flag.FlagSet, args []string) error {
	if err := parseFiles(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

// parseFiles parses args, flags first, and leaves the positional arguments in fs.Args().
// --threads N sets how many threads the kernels spread over (runtime.GOMAXPROCS).
func parseFiles(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if threads < 0 || threads > 4096 {
		return usageError{fmt.Errorf("--threads %d: give 1..4096 (0: every core)", threads)}
	}
	if threads > 0 {
		runtime.GOMAXPROCS(threads)
	} else {
		runtime.GOMAXPROCS(defaultProcs)
	}
	return nil
}

// threads is the running command's --threads; defaultProcs the Go runtime's own choice.
var (
	threads      int
	defaultProcs = runtime.GOMAXPROCS(0)
)

// inputShape is the --input-shape of the running command.
var inputShape shapeFlag

// modelFlags are the running command's --labels, --names and --preprocess.
var modelFlags modelFlagValues

type modelFlagValues struct{ labels, names, preprocess string }

// shapeFlag parses the input's sizes after the batch axis: CxHxW for an image, TxF, F, ….
type shapeFlag []int

func (s *shapeFlag) String() string {
	if s == nil || *s == nil {
		return ""
	}
	return fmt.Sprint([]int(*s))
}

func (s *shapeFlag) Set(v string) error {
	parts := strings.Split(strings.ToLower(v), "x")
	if len(parts) > 4 {
		return fmt.Errorf("want the sizes after the batch axis, 1 to 4 of them (CxHxW, TxF, F), got %q", v)
	}
	var out []int
	for _, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 1<<14 {
			return fmt.Errorf("want sizes 1..16384 joined by x (CxHxW, TxF, F), got %q", v)
		}
		out = append(out, n)
	}
	*s = out
	return nil
}
