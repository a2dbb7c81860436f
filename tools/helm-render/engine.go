package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/semver/v3"
	"github.com/Masterminds/sprig/v3"
	"github.com/gobwas/glob"
	"sigs.k8s.io/yaml"
)

const defaultKubeVersion = "v1.31.0"

// renderable is one template with the values it renders with (a subchart's templates see its own values).
type renderable struct {
	tpl      string
	vals     map[string]interface{}
	basePath string
}

// render is Helm's engine.Render: every template of the chart and its subcharts is parsed into one set
// (so named templates are global), and each non-partial template is executed with its chart's values.
func render(c *Chart, values map[string]interface{}, release map[string]interface{}, caps *Capabilities) (map[string]string, error) {
	tpls := map[string]renderable{}
	collectTemplates(c, "", values, release, caps, tpls)

	t := template.New("gotpl")
	t.Option("missingkey=zero")
	initFuncMap(t)
	keys := sortTemplates(tpls)
	for _, name := range keys {
		if _, err := t.New(name).Parse(tpls[name].tpl); err != nil {
			return nil, cleanupParseError(name, err)
		}
	}
	out := map[string]string{}
	for _, name := range keys {
		if strings.HasPrefix(path.Base(name), "_") {
			continue
		}
		r := tpls[name]
		r.vals["Template"] = map[string]interface{}{"Name": name, "BasePath": r.basePath}
		var buf strings.Builder
		if err := t.ExecuteTemplate(&buf, name, r.vals); err != nil {
			return nil, cleanupExecError(name, err)
		}
		out[name] = strings.ReplaceAll(buf.String(), "<no value>", "")
	}
	return out, nil
}

// chartObject is .Chart: the Chart.yaml fields plus IsRoot, as Helm passes it.
type chartObject struct {
	Metadata
	IsRoot bool
}

// collectTemplates registers a chart's templates with its top-level object and returns that object, which
// the parent sees as .Subcharts.<name> (so a parent can call this chart's named templates with its context).
func collectTemplates(c *Chart, prefix string, values, release map[string]interface{}, caps *Capabilities, out map[string]renderable) map[string]interface{} {
	chartPath := path.Join(prefix, c.Name)
	subcharts := map[string]interface{}{}
	top := map[string]interface{}{
		"Values":       values,
		"Release":      release,
		"Chart":        chartObject{Metadata: *c.Meta, IsRoot: prefix == ""},
		"Capabilities": caps,
		"Files":        c.Files,
		"Subcharts":    subcharts,
	}
	for _, sub := range c.Deps {
		sv, _ := values[sub.Name].(map[string]interface{})
		if sv == nil {
			sv = map[string]interface{}{}
		}
		subcharts[sub.Name] = collectTemplates(sub, path.Join(chartPath, "charts"), sv, release, caps, out)
	}
	for name, data := range c.Templates {
		out[path.Join(chartPath, name)] = renderable{tpl: string(data), vals: top, basePath: path.Join(chartPath, "templates")}
	}
	return top
}

// sortTemplates orders deeper paths first, then names in reverse, as Helm does, so that a parent chart's
// `define` wins over a subchart's of the same name.
func sortTemplates(tpls map[string]renderable) []string {
	keys := make([]string, 0, len(tpls))
	for k := range tpls {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := strings.Count(keys[i], "/"), strings.Count(keys[j], "/")
		if a != b {
			return a > b
		}
		return keys[i] > keys[j]
	})
	return keys
}

const recursionMaxNums = 1000

func initFuncMap(t *template.Template) {
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	included := map[string]int{}
	funcs["include"] = func(name string, data interface{}) (string, error) {
		if included[name] > recursionMaxNums {
			return "", fmt.Errorf("rendering template has a nested reference name: %s: unable to execute template", name)
		}
		included[name]++
		defer func() { included[name]-- }()
		var buf strings.Builder
		err := t.ExecuteTemplate(&buf, name, data)
		return buf.String(), err
	}
	funcs["tpl"] = func(text string, vals interface{}) (string, error) {
		clone, err := t.Clone()
		if err != nil {
			return "", fmt.Errorf("cannot clone template: %w", err)
		}
		clone.Option("missingkey=zero")
		initFuncMap(clone)
		name := "tpl"
		if m, ok := vals.(map[string]interface{}); ok {
			if tm, ok := m["Template"].(map[string]interface{}); ok {
				if n, ok := tm["Name"].(string); ok && n != "" {
					name = n
				}
			}
		}
		if _, err := clone.New(name).Parse(text); err != nil {
			return "", fmt.Errorf("cannot parse template %q: %w", text, err)
		}
		var buf strings.Builder
		if err := clone.ExecuteTemplate(&buf, name, vals); err != nil {
			return "", fmt.Errorf("error during tpl function execution for %q: %w", text, err)
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	funcs["required"] = func(warn string, val interface{}) (interface{}, error) {
		if val == nil {
			return val, errors.New(warn)
		}
		if s, ok := val.(string); ok && s == "" {
			return val, errors.New(warn)
		}
		return val, nil
	}
	funcs["fail"] = func(msg string) (string, error) { return "", errors.New(msg) }
	funcs["lookup"] = func(string, string, string, string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	funcs["toYaml"] = toYAML
	funcs["mustToYaml"] = mustToYAML
	funcs["toYamlPretty"] = toYAML
	funcs["fromYaml"] = fromYAML
	funcs["fromYamlArray"] = fromYAMLArray
	funcs["toJson"] = toJSON
	funcs["mustToJson"] = mustToJSON
	funcs["fromJson"] = fromJSON
	funcs["fromJsonArray"] = fromJSONArray
	funcs["toToml"] = func(interface{}) (string, error) { return "", errors.New("toToml is not supported by helm-render") }
	t.Funcs(funcs)
}

func toYAML(v interface{}) string {
	data, err := yaml.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(data), "\n")
}

func mustToYAML(v interface{}) (string, error) {
	data, err := yaml.Marshal(v)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(string(data), "\n"), nil
}

func fromYAML(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func fromYAMLArray(s string) []interface{} {
	a := []interface{}{}
	if err := yaml.Unmarshal([]byte(s), &a); err != nil {
		a = []interface{}{err.Error()}
	}
	return a
}

func toJSON(v interface{}) string {
	data, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(data)
}

func mustToJSON(v interface{}) (string, error) {
	data, err := json.Marshal(v)
	return string(data), err
}

func fromJSON(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func fromJSONArray(s string) []interface{} {
	a := []interface{}{}
	if err := json.Unmarshal([]byte(s), &a); err != nil {
		a = []interface{}{err.Error()}
	}
	return a
}

// cleanupParseError and cleanupExecError shorten Go's template errors to Helm's format:
// "parse error at (chart/templates/x.yaml:3): …" and "execution error at (chart/templates/x.yaml:3:4): msg".
func cleanupParseError(filename string, err error) error {
	tokens := strings.Split(err.Error(), ": ")
	if len(tokens) == 1 {
		return fmt.Errorf("parse error in (%s): %s", filename, err)
	}
	location := tokens[1]
	msg := strings.Join(tokens[2:], ": ")
	return fmt.Errorf("parse error at (%s): %s", location, msg)
}

var errorCalling = regexp.MustCompile(`error calling [A-Za-z0-9_]+: `)

func cleanupExecError(filename string, err error) error {
	var execErr template.ExecError
	if !errors.As(err, &execErr) {
		return fmt.Errorf("execution error in (%s): %s", filename, err)
	}
	tokens := strings.SplitN(err.Error(), ": ", 3)
	if len(tokens) != 3 {
		return fmt.Errorf("execution error in (%s): %s", filename, err)
	}
	location, msg := tokens[1], tokens[2]
	if locs := errorCalling.FindAllStringIndex(msg, -1); len(locs) > 0 {
		msg = msg[locs[len(locs)-1][1]:]
	}
	return fmt.Errorf("execution error at (%s): %s", location, msg)
}

// splitManifests splits a rendered template into YAML documents and checks each one parses.
var docSep = regexp.MustCompile(`(?m)^---[ \t]*(#.*)?$`)

func splitManifests(name, text string) ([]string, error) {
	var docs []string
	for _, d := range docSep.Split(text, -1) {
		d = strings.TrimSpace(d)
		if d == "" {
			continue
		}
		var v interface{}
		if err := yaml.Unmarshal([]byte(d), &v); err != nil {
			return nil, fmt.Errorf("YAML parse error on %s: %w", name, err)
		}
		docs = append(docs, d)
	}
	return docs, nil
}

// --- built-in objects ---

// Files is .Files: the chart's non-template files.
type Files map[string][]byte

// Get returns a file's content as a string ("" when missing).
func (f Files) Get(name string) string { return string(f[name]) }

// GetBytes returns a file's content.
func (f Files) GetBytes(name string) []byte { return f[name] }

// Glob returns the files whose path matches a glob (`**` crosses folders).
func (f Files) Glob(pattern string) Files {
	g, err := glob.Compile(pattern, '/')
	if err != nil {
		g, _ = glob.Compile("**")
	}
	out := Files{}
	for name, data := range f {
		if g.Match(name) {
			out[name] = data
		}
	}
	return out
}

// Lines returns a file's lines.
func (f Files) Lines(name string) []string {
	if f == nil || f[name] == nil {
		return []string{}
	}
	return strings.Split(strings.TrimSuffix(string(f[name]), "\n"), "\n")
}

// AsConfig renders the files as ConfigMap data (base name → content).
func (f Files) AsConfig() string {
	m := map[string]string{}
	for name, data := range f {
		m[path.Base(name)] = string(data)
	}
	return toYAML(m)
}

// AsSecrets renders the files as Secret data (base name → base64 content).
func (f Files) AsSecrets() string {
	m := map[string]string{}
	for name, data := range f {
		m[path.Base(name)] = base64.StdEncoding.EncodeToString(data)
	}
	return toYAML(m)
}

// Capabilities is .Capabilities.
type Capabilities struct {
	KubeVersion KubeVersion
	APIVersions VersionSet
	HelmVersion map[string]string
}

// KubeVersion is .Capabilities.KubeVersion.
type KubeVersion struct {
	Version string
	Major   string
	Minor   string
}

func (k KubeVersion) String() string { return k.Version }

// GitVersion is the deprecated alias of Version.
func (k KubeVersion) GitVersion() string { return k.Version }

// VersionSet is .Capabilities.APIVersions.
type VersionSet []string

// Has tells whether an apiVersion (group/version, or group/version/Kind) is available.
func (v VersionSet) Has(apiVersion string) bool {
	for _, x := range v {
		if x == apiVersion {
			return true
		}
	}
	return false
}

// defaultAPIVersions are the built-in API versions of a current Kubernetes release (as `helm template`
// assumes without a cluster); --api-versions adds more, e.g. monitoring.coreos.com/v1.
var defaultAPIVersions = []string{
	"v1", "admissionregistration.k8s.io/v1", "apiextensions.k8s.io/v1", "apiregistration.k8s.io/v1",
	"apps/v1", "authentication.k8s.io/v1", "authorization.k8s.io/v1", "autoscaling/v1", "autoscaling/v2",
	"batch/v1", "certificates.k8s.io/v1", "coordination.k8s.io/v1", "discovery.k8s.io/v1",
	"events.k8s.io/v1", "flowcontrol.apiserver.k8s.io/v1", "networking.k8s.io/v1", "node.k8s.io/v1",
	"policy/v1", "rbac.authorization.k8s.io/v1", "scheduling.k8s.io/v1", "storage.k8s.io/v1",
}

func newCapabilities(kubeVersion string, extra []string) (*Capabilities, error) {
	v, err := semver.NewVersion(kubeVersion)
	if err != nil {
		return nil, fmt.Errorf("invalid kube version %q: %w", kubeVersion, err)
	}
	apis := append(VersionSet{}, defaultAPIVersions...)
	apis = append(apis, extra...)
	return &Capabilities{
		KubeVersion: KubeVersion{
			Version: "v" + v.String(),
			Major:   fmt.Sprint(v.Major()),
			Minor:   fmt.Sprint(v.Minor()),
		},
		APIVersions: apis,
		HelmVersion: map[string]string{"Version": "v3-compatible (helm-render " + version + ")"},
	}, nil
}
