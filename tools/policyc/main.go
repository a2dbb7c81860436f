// Command policyc is the project's own Rego toolchain for machines without an `opa` binary.
//
// It does four jobs of the OPA CLI with OPA's own Go packages, taking the same flags, so that
// scripts/policy-toolchain.mjs drives either tool the same way:
//
//	policyc build -t wasm [--capabilities FILE] [-e ENTRYPOINT]... [--revision R] [--ignore GLOB]... [-o FILE]
//	              [--signing-key KEY [--signing-alg ALG] [--claims-file FILE] [--verification-key-id ID]] PATH...
//	policyc test [--format pretty|json] [--capabilities FILE] [-v] [--var-values] [--ignore GLOB]... [--run REGEX] PATH...
//	policyc fmt [--list] [--write] [--fail] PATH...
//	policyc check [--capabilities FILE] [--schema FILE] [--max-errors N] [--ignore GLOB]... PATH...
//	policyc version
//
// All Rego is parsed as Rego v1, as OPA 1.x does by default.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/compile"
	"github.com/open-policy-agent/opa/v1/cover"
	"github.com/open-policy-agent/opa/v1/format"
	"github.com/open-policy-agent/opa/v1/loader"
	"github.com/open-policy-agent/opa/v1/tester"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/open-policy-agent/opa/v1/topdown/lineage"
	"github.com/open-policy-agent/opa/v1/version"
)

// exitError carries a process exit code; opa exits 2 on failing tests and on unformatted files with --fail.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: policyc build|test|fmt|check|version [flags] PATH...")
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "build":
		err = build(args)
	case "test":
		err = test(args)
	case "fmt":
		err = fmtCmd(args)
	case "check":
		err = check(args)
	case "version":
		fmt.Printf("OPA: %s\nGo: %s\n", version.Version, runtime.Version())
	default:
		err = fmt.Errorf("unknown command %q (want build, test, fmt, check or version)", cmd)
	}
	var exit exitError
	switch {
	case errors.As(err, &exit):
		os.Exit(exit.code)
	case err != nil:
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// stringList is a repeatable string flag (-e a -e b).
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// parse parses flags that may come before, between or after the positional arguments.
func parse(fset *flag.FlagSet, args []string) ([]string, error) {
	var paths []string
	for {
		if err := fset.Parse(args); err != nil {
			return nil, err
		}
		if fset.NArg() == 0 {
			break
		}
		paths, args = append(paths, fset.Arg(0)), fset.Args()[1:]
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("%s: no PATH given", fset.Name())
	}
	return paths, nil
}

// loadCapabilities reads a capabilities.json, or returns those of this OPA version when file is empty.
func loadCapabilities(file string) (*ast.Capabilities, error) {
	if file == "" {
		return ast.CapabilitiesForThisVersion(), nil
	}
	c, err := ast.LoadCapabilitiesFile(file)
	if err != nil {
		return nil, fmt.Errorf("capabilities %s: %w", file, err)
	}
	return c, nil
}

// ignoreFilter skips files whose base name matches one of the globs, as `opa build/test --ignore` does
// (and, like `opa build`, skips .tar.gz files in a policy folder).
func ignoreFilter(globs []string) loader.Filter {
	return func(abspath string, info fs.FileInfo, depth int) bool {
		if !info.IsDir() && strings.HasSuffix(abspath, ".tar.gz") {
			return true
		}
		for _, g := range globs {
			if loader.GlobExcludeName(g, 1)(abspath, info, depth) {
				return true
			}
		}
		return false
	}
}

// build writes an OPA bundle with policy.wasm, exactly as `opa build -t wasm` does; with --signing-key it
// also writes .signatures.json as `opa build --signing-key` does (the signing flags and defaults are OPA's:
// RS256, and without --claims-file a `kid` header and `keyid` claim named by --verification-key-id).
func build(args []string) error {
	fset := flag.NewFlagSet("build", flag.ContinueOnError)
	target := fset.String("t", "wasm", "target (only wasm)")
	capsFile := fset.String("capabilities", "", "capabilities.json to compile against")
	revision := fset.String("revision", "", "bundle revision for the manifest")
	output := fset.String("o", "bundle.tar.gz", "output bundle file")
	signingKey := fset.String("signing-key", "", "secret (HMAC) or path of the PEM private key (RSA, ECDSA) to sign the bundle with")
	signingAlg := fset.String("signing-alg", "RS256", "signing algorithm (RS/PS/ES 256/384/512, HS256/384/512)")
	claimsFile := fset.String("claims-file", "", "JSON file of extra claims for the signature (e.g. {\"scope\": \"...\"})")
	keyID := fset.String("verification-key-id", "default", "key id written as the signature's kid (without --claims-file)")
	var entrypoints, ignore stringList
	fset.Var(&entrypoints, "e", "entrypoint, e.g. mcp/authz/decision (repeatable)")
	fset.Var(&ignore, "ignore", "file name glob to leave out, e.g. '*_test.rego' (repeatable)")
	paths, err := parse(fset, args)
	if err != nil {
		return err
	}
	if *target != compile.TargetWasm {
		return fmt.Errorf("build: only -t wasm is supported, not %q", *target)
	}
	caps, err := loadCapabilities(*capsFile)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	c := compile.New().
		WithTarget(compile.TargetWasm).
		WithRegoVersion(ast.RegoV1).
		WithCapabilities(caps).
		WithEntrypoints(entrypoints...).
		WithRegoAnnotationEntrypoints(true).
		WithPaths(paths...).
		WithFilter(ignoreFilter(ignore)).
		WithOutput(&buf)
	if *revision != "" {
		c = c.WithRevision(*revision)
	}
	if *signingKey == "" && *claimsFile != "" {
		return errors.New("build: --claims-file needs --signing-key")
	}
	if *signingKey != "" {
		c = c.WithBundleSigningConfig(bundle.NewSigningConfig(*signingKey, *signingAlg, *claimsFile))
		if *claimsFile == "" {
			c = c.WithBundleVerificationKeyID(*keyID)
		}
	}
	if err := c.Build(context.Background()); err != nil {
		return err
	}
	return os.WriteFile(*output, buf.Bytes(), 0o644)
}

// test runs the Rego unit tests (test_* rules) like `opa test`: exit 2 when a test fails or errors. As in
// `opa test`, only -v and --var-values trace the tests (tracing every test of a large folder costs several
// times the memory); --var-values shows, for each failing test, the failed expression with its file:line and
// the values of its variables, and -v the trace of each failure.
func test(args []string) error {
	fset := flag.NewFlagSet("test", flag.ContinueOnError)
	formatName := fset.String("format", "pretty", "output format: pretty or json")
	capsFile := fset.String("capabilities", "", "capabilities.json to compile the tests against")
	verbose := fset.Bool("v", false, "print every test and its output, and the trace of each failure")
	varValues := fset.Bool("var-values", false, "show where each failing test failed and its variables' values")
	run := fset.String("run", "", "only run tests whose name matches this regular expression")
	timeout := fset.Duration("timeout", 5*time.Second, "timeout per test")
	coverage := fset.Bool("coverage", false, "report coverage as JSON (opa test --coverage) once every test passed")
	var ignore stringList
	fset.Var(&ignore, "ignore", "file name glob to leave out (repeatable)")
	paths, err := parse(fset, args)
	if err != nil {
		return err
	}
	caps, err := loadCapabilities(*capsFile)
	if err != nil {
		return err
	}
	popts := ast.ParserOptions{RegoVersion: ast.RegoV1, Capabilities: caps, ProcessAnnotation: true}
	modules, store, err := tester.LoadWithParserOptions(paths, ignoreFilter(ignore), popts)
	if err != nil {
		return err
	}
	compiler := ast.NewCompiler().
		WithCapabilities(caps).
		WithEnablePrintStatements(true).
		WithUseTypeCheckAnnotations(true).
		WithRewriteTestRules(*varValues) // binds the operands of a test's comparisons to variables, to show their values
	var cov *cover.Cover
	runner := tester.NewRunner().
		SetCompiler(compiler).
		SetStore(store).
		SetModules(modules).
		CapturePrintOutput(true).
		EnableTracing(*verbose || *varValues).
		SetTimeout(*timeout).
		Filter(*run)
	if *coverage {
		cov = cover.New()
		runner = runner.SetCoverageQueryTracer(cov)
	}
	ch, err := runner.RunTests(context.Background(), nil)
	if err != nil {
		return err
	}

	var reporter tester.Reporter = tester.PrettyReporter{
		Output:      os.Stdout,
		Verbose:     *verbose,
		FailureLine: *varValues,
		LocalVars:   *varValues,
	}
	if *formatName == "json" {
		reporter = tester.JSONReporter{Output: os.Stdout}
	}
	if cov != nil {
		// As opa test --coverage: the report (JSON), or the first failing test as the error.
		reporter = tester.JSONCoverageReporter{Cover: cov, Modules: modules, Output: os.Stdout}
	}
	failed := false
	results := make(chan *tester.Result)
	go func() {
		defer close(results)
		for r := range ch {
			if !r.Pass() && !r.Skip {
				failed = true
			}
			if r.Error != nil {
				r.Error = messageError{r.Error.Error()} // plain errors marshal to {} otherwise
			}
			r.Trace = explained(r.Trace, *verbose)
			results <- r
		}
	}()
	if err := reporter.Report(results); err != nil {
		return err
	}
	if failed {
		return exitError{2}
	}
	return nil
}

// explained keeps of a test's trace what `opa test` keeps without --explain: with -v the notes and failures
// and the path to each, else the failures only (what --var-values and --format json show).
func explained(trace []*topdown.Event, verbose bool) []*topdown.Event {
	if verbose {
		return lineage.Filter(trace, func(e *topdown.Event) bool {
			return e.Op == topdown.NoteOp || e.Op == topdown.FailOp
		})
	}
	return lineage.Fails(trace)
}

// messageError gives any error a JSON form ({"message": ...}) like OPA's own error types.
type messageError struct {
	Message string `json:"message"`
}

func (e messageError) Error() string { return e.Message }

// fmtCmd formats .rego files as `opa fmt` does (Rego v1): print, --list, --write, --fail.
func fmtCmd(args []string) error {
	fset := flag.NewFlagSet("fmt", flag.ContinueOnError)
	list := fset.Bool("list", false, "list files whose formatting differs")
	write := fset.Bool("write", false, "overwrite files with their formatted form")
	fail := fset.Bool("fail", false, "exit 2 when a file's formatting differs")
	fset.BoolVar(list, "l", false, "same as --list")
	fset.BoolVar(write, "w", false, "same as --write")
	paths, err := parse(fset, args)
	if err != nil {
		return err
	}
	changed := false
	for _, root := range paths {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || filepath.Ext(path) != ".rego" {
				return err
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			out, err := format.SourceWithOpts(path, src, format.Opts{RegoVersion: ast.RegoV1})
			if err != nil {
				return fmt.Errorf("failed to format Rego source file: %w", err)
			}
			if _, err := ast.ParseModuleWithOpts(path, string(out), ast.ParserOptions{RegoVersion: ast.RegoV1}); err != nil {
				return fmt.Errorf("%s was formatted, but the result is invalid: %w", path, err)
			}
			if bytes.Equal(src, out) {
				if !*list && !*write {
					_, err = os.Stdout.Write(out)
				}
				return err
			}
			changed = true
			if *list {
				fmt.Println(path)
			}
			if *write {
				info, err := d.Info()
				if err != nil {
					return err
				}
				return os.WriteFile(path, out, info.Mode().Perm())
			}
			if !*list {
				_, err = os.Stdout.Write(out)
			}
			return err
		})
		if err != nil {
			return err
		}
	}
	if changed && *fail {
		return exitError{2}
	}
	return nil
}
