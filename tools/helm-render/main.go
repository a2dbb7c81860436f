// Command helm-render renders a Helm chart the way `helm template` does, for machines without Helm.
//
// It is Go's text/template with Sprig v3 (the same function library Helm 3 uses) plus Helm's own
// functions (include, tpl, required, fail, toYaml, fromYaml, fromYamlArray, toJson, fromJson,
// fromJsonArray, lookup), the built-in objects (.Values, .Release, .Chart, .Capabilities, .Files,
// .Template, .Subcharts), values merged from the chart, --values files and --set/--set-string/--set-file,
// values.schema.json validation (JSON Schema draft-07, as Helm does) and subcharts unpacked under
// charts/. Not covered: packaged (.tgz) subcharts, dependency conditions/tags, toToml, hooks ordering,
// and `lookup` (always empty, as in `helm template`).
//
//	helm-render template [NAME] CHART [-n NS] [-f FILE]... [--set K=V]... [--set-string K=V]...
//	            [--set-file K=PATH]... [-s TEMPLATE]... [--kube-version V] [-a API_VERSION]... [--notes]
//	helm-render version
//
// `--notes` (not a `helm template` flag) appends the rendered NOTES.txt after a line "NOTES:".
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
)

const version = "0.1.0"

type options struct {
	release     string
	chartPath   string
	namespace   string
	valueFiles  []string
	set         []string
	setString   []string
	setFile     []string
	showOnly    []string
	kubeVersion string
	apiVersions []string
	notes       bool
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: helm-render template [NAME] CHART [flags] | version")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "version":
		fmt.Printf("helm-render %s (Go %s, Sprig v3)\n", version, runtime.Version())
	case "template":
		opts, err := parseArgs(os.Args[2:])
		if err == nil {
			err = templateCmd(opts)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "Error: %s\n", err)
			os.Exit(1)
		}
	default:
		fmt.Fprintf(os.Stderr, "Error: unknown command %q (want template or version)\n", os.Args[1])
		os.Exit(2)
	}
}

// parseArgs reads helm-template-style arguments; flags and positionals may be interleaved.
func parseArgs(args []string) (options, error) {
	o := options{namespace: "default", kubeVersion: defaultKubeVersion}
	var positional []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if !strings.HasPrefix(arg, "-") || arg == "-" {
			positional = append(positional, arg)
			continue
		}
		name, value, hasValue := strings.Cut(arg, "=")
		next := func() (string, error) {
			if hasValue {
				return value, nil
			}
			if i+1 >= len(args) {
				return "", fmt.Errorf("flag needs an argument: %s", name)
			}
			i++
			return args[i], nil
		}
		var err error
		var v string
		switch name {
		case "-n", "--namespace":
			o.namespace, err = next()
		case "-f", "--values":
			v, err = next()
			o.valueFiles = append(o.valueFiles, splitComma(v)...)
		case "--set":
			v, err = next()
			o.set = append(o.set, v)
		case "--set-string":
			v, err = next()
			o.setString = append(o.setString, v)
		case "--set-file":
			v, err = next()
			o.setFile = append(o.setFile, v)
		case "-s", "--show-only":
			v, err = next()
			o.showOnly = append(o.showOnly, v)
		case "--kube-version":
			o.kubeVersion, err = next()
		case "-a", "--api-versions":
			v, err = next()
			o.apiVersions = append(o.apiVersions, splitComma(v)...)
		case "--notes":
			o.notes = true
		case "--release-name", "--generate-name", "-g":
			// accepted for compatibility; NAME comes from the positional argument
		default:
			return o, fmt.Errorf("unknown flag: %s", name)
		}
		if err != nil {
			return o, err
		}
	}
	switch len(positional) {
	case 1:
		o.release, o.chartPath = "release-name", positional[0]
	case 2:
		o.release, o.chartPath = positional[0], positional[1]
	default:
		return o, errors.New("expected [NAME] CHART")
	}
	return o, nil
}

func splitComma(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func templateCmd(o options) error {
	chart, err := loadChart(o.chartPath)
	if err != nil {
		return err
	}
	if err := checkKubeVersion(chart, o.kubeVersion); err != nil {
		return err
	}
	user, err := userValues(o)
	if err != nil {
		return err
	}
	values, err := coalesceChart(chart, user)
	if err != nil {
		return err
	}
	if err := validateChartValues(chart, values); err != nil {
		return err
	}
	caps, err := newCapabilities(o.kubeVersion, o.apiVersions)
	if err != nil {
		return err
	}
	release := map[string]interface{}{
		"Name": o.release, "Namespace": o.namespace, "Revision": 1,
		"IsInstall": true, "IsUpgrade": false, "Service": "Helm",
	}
	rendered, err := render(chart, values, release, caps)
	if err != nil {
		return err
	}

	names := make([]string, 0, len(rendered))
	for name := range rendered {
		names = append(names, name)
	}
	sort.Strings(names)
	var notes string
	var out strings.Builder
	shown := map[string]bool{}
	for _, name := range names {
		if strings.HasSuffix(name, "/NOTES.txt") {
			if name == chart.Name+"/templates/NOTES.txt" {
				notes = rendered[name]
			}
			continue
		}
		if len(o.showOnly) > 0 && !matchesShowOnly(name, chart.Name, o.showOnly) {
			continue
		}
		docs, err := splitManifests(name, rendered[name])
		if err != nil {
			return err
		}
		for _, doc := range docs {
			shown[name] = true
			fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", name, doc)
		}
	}
	for _, s := range o.showOnly {
		found := false
		for name := range shown {
			if matchesShowOnly(name, chart.Name, []string{s}) {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("could not find template %s in chart", s)
		}
	}
	if o.notes && strings.TrimSpace(notes) != "" {
		fmt.Fprintf(&out, "\nNOTES:\n%s\n", strings.TrimRight(notes, "\n"))
	}
	_, err = os.Stdout.WriteString(out.String())
	return err
}

// matchesShowOnly compares a template name (chart/templates/x.yaml) with --show-only values, which Helm
// takes relative to the chart (templates/x.yaml) or with the chart name.
func matchesShowOnly(name, chartName string, showOnly []string) bool {
	rel := strings.TrimPrefix(name, chartName+"/")
	for _, s := range showOnly {
		s = filepath.ToSlash(filepath.Clean(s))
		if s == name || s == rel {
			return true
		}
	}
	return false
}
