package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	"sigs.k8s.io/yaml"
)

// Metadata is Chart.yaml, exposed to templates as .Chart (Helm's chart.Metadata fields).
type Metadata struct {
	Name         string                   `json:"name,omitempty"`
	Home         string                   `json:"home,omitempty"`
	Sources      []string                 `json:"sources,omitempty"`
	Version      string                   `json:"version,omitempty"`
	Description  string                   `json:"description,omitempty"`
	Keywords     []string                 `json:"keywords,omitempty"`
	Maintainers  []map[string]interface{} `json:"maintainers,omitempty"`
	Icon         string                   `json:"icon,omitempty"`
	APIVersion   string                   `json:"apiVersion,omitempty"`
	Condition    string                   `json:"condition,omitempty"`
	Tags         string                   `json:"tags,omitempty"`
	AppVersion   string                   `json:"appVersion,omitempty"`
	Deprecated   bool                     `json:"deprecated,omitempty"`
	Annotations  map[string]string        `json:"annotations,omitempty"`
	KubeVersion  string                   `json:"kubeVersion,omitempty"`
	Dependencies []map[string]interface{} `json:"dependencies,omitempty"`
	Type         string                   `json:"type,omitempty"`
}

// Chart is a loaded chart folder with its unpacked subcharts (charts/<name>/).
type Chart struct {
	Name      string
	Meta      *Metadata
	Values    map[string]interface{}
	Schema    []byte
	Templates map[string][]byte // path relative to the chart, e.g. templates/deployment.yaml
	Files     Files             // every other file, as .Files
	Deps      []*Chart
}

func loadChart(dir string) (*Chart, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("%s: only chart folders are supported, not packaged charts", dir)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return nil, fmt.Errorf("Chart.yaml file is missing in %s", dir)
	}
	meta := &Metadata{}
	if err := yaml.Unmarshal(raw, meta); err != nil {
		return nil, fmt.Errorf("cannot load Chart.yaml: %w", err)
	}
	if meta.Name == "" {
		return nil, fmt.Errorf("validation: chart.metadata.name is required (%s)", dir)
	}
	if meta.APIVersion == "" {
		return nil, fmt.Errorf("validation: chart.metadata.apiVersion is required (%s)", dir)
	}
	c := &Chart{Name: meta.Name, Meta: meta, Values: map[string]interface{}{}, Templates: map[string][]byte{}, Files: Files{}}
	ignore, err := readHelmignore(dir)
	if err != nil {
		return nil, err
	}
	subcharts := map[string]bool{}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if ignore.ignored(rel, d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if parent, name := path.Split(rel); parent == "charts/" {
				subcharts[name] = true
				return filepath.SkipDir
			}
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		switch {
		case rel == "Chart.yaml" || rel == "Chart.lock" || rel == ".helmignore":
		case rel == "values.yaml":
			if err := yaml.Unmarshal(data, &c.Values); err != nil {
				return fmt.Errorf("cannot load values.yaml: %w", err)
			}
			if c.Values == nil {
				c.Values = map[string]interface{}{}
			}
		case rel == "values.schema.json":
			c.Schema = data
		case strings.HasPrefix(rel, "templates/"):
			c.Templates[rel] = data
		case strings.HasPrefix(rel, "charts/"):
			if strings.HasSuffix(rel, ".tgz") {
				return fmt.Errorf("%s: packaged subcharts are not supported; unpack it under charts/", rel)
			}
		default:
			c.Files[rel] = data
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(subcharts))
	for n := range subcharts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		sub, err := loadChart(filepath.Join(dir, "charts", n))
		if err != nil {
			return nil, err
		}
		c.Deps = append(c.Deps, sub)
	}
	return c, nil
}

// helmignore holds .helmignore patterns (the subset Helm documents: globs, `dir/`, `!negation`, comments).
type helmignore struct {
	rules []ignoreRule
}

type ignoreRule struct {
	pattern string
	negate  bool
	dirOnly bool
}

func readHelmignore(dir string) (helmignore, error) {
	var h helmignore
	data, err := os.ReadFile(filepath.Join(dir, ".helmignore"))
	if os.IsNotExist(err) {
		return h, nil
	}
	if err != nil {
		return h, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		r := ignoreRule{}
		if strings.HasPrefix(line, "!") {
			r.negate, line = true, line[1:]
		}
		if strings.HasSuffix(line, "/") {
			r.dirOnly, line = true, strings.TrimSuffix(line, "/")
		}
		r.pattern = strings.TrimPrefix(line, "/")
		h.rules = append(h.rules, r)
	}
	return h, sc.Err()
}

func (h helmignore) ignored(rel string, isDir bool) bool {
	out := false
	for _, r := range h.rules {
		if r.dirOnly && !isDir {
			continue
		}
		target := path.Base(rel)
		if strings.Contains(r.pattern, "/") {
			target = rel
		}
		if ok, _ := path.Match(r.pattern, target); ok {
			out = !r.negate
		}
	}
	return out
}

func checkKubeVersion(c *Chart, kubeVersion string) error {
	if c.Meta.KubeVersion == "" {
		return nil
	}
	constraint, err := semver.NewConstraint(c.Meta.KubeVersion)
	if err != nil {
		return fmt.Errorf("chart %s: invalid kubeVersion %q: %w", c.Name, c.Meta.KubeVersion, err)
	}
	v, err := semver.NewVersion(kubeVersion)
	if err != nil {
		return fmt.Errorf("invalid kube version %q: %w", kubeVersion, err)
	}
	if !constraint.Check(v) {
		return fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes %s", c.Meta.KubeVersion, kubeVersion)
	}
	return nil
}
