package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/xeipuuv/gojsonschema"
	"sigs.k8s.io/yaml"
)

// userValues merges --values files (in order), then --set, --set-string and --set-file, as Helm does.
func userValues(o options) (map[string]interface{}, error) {
	base := map[string]interface{}{}
	for _, f := range o.valueFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		current := map[string]interface{}{}
		if err := yaml.Unmarshal(data, &current); err != nil {
			return nil, fmt.Errorf("failed to parse %s: %w", f, err)
		}
		base = mergeMaps(base, current)
	}
	for _, s := range o.set {
		if err := parseSet(s, base, setTyped); err != nil {
			return nil, fmt.Errorf("failed parsing --set data: %w", err)
		}
	}
	for _, s := range o.setString {
		if err := parseSet(s, base, setString); err != nil {
			return nil, fmt.Errorf("failed parsing --set-string data: %w", err)
		}
	}
	for _, s := range o.setFile {
		if err := parseSet(s, base, setFile); err != nil {
			return nil, fmt.Errorf("failed parsing --set-file data: %w", err)
		}
	}
	return base, nil
}

// mergeMaps is Helm's merge of --values files: b wins, maps merge recursively.
func mergeMaps(a, b map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if vm, ok := v.(map[string]interface{}); ok {
			if bv, ok := out[k]; ok {
				if bm, ok := bv.(map[string]interface{}); ok {
					out[k] = mergeMaps(bm, vm)
					continue
				}
			}
		}
		out[k] = v
	}
	return out
}

func isTable(v interface{}) bool {
	_, ok := v.(map[string]interface{})
	return ok
}

// coalesceChart lays the chart's defaults (and its subcharts' under their names) under the user's values:
// user values win, maps merge, and a user `null` removes a default (chartutil.CoalesceValues).
func coalesceChart(c *Chart, user map[string]interface{}) (map[string]interface{}, error) {
	dest := deepCopyMap(user)
	coalesce(c, dest)
	return dest, nil
}

func coalesce(c *Chart, dest map[string]interface{}) {
	coalesceTables(dest, deepCopyMap(c.Values))
	for _, sub := range c.Deps {
		sv, ok := dest[sub.Name]
		if !ok || sv == nil {
			sv = map[string]interface{}{}
			dest[sub.Name] = sv
		}
		subDest, ok := sv.(map[string]interface{})
		if !ok {
			fmt.Fprintf(os.Stderr, "warning: skipped value for %s: not a table\n", sub.Name)
			continue
		}
		coalesceGlobals(subDest, dest)
		coalesce(sub, subDest)
	}
}

func coalesceTables(dst, src map[string]interface{}) {
	for key, val := range src {
		dv, ok := dst[key]
		switch {
		case ok && dv == nil:
			delete(dst, key)
		case !ok:
			dst[key] = val
		case isTable(val) && isTable(dv):
			coalesceTables(dv.(map[string]interface{}), val.(map[string]interface{}))
		}
	}
}

// coalesceGlobals copies the parent's `global` values into a subchart's; the parent's win.
func coalesceGlobals(dest, src map[string]interface{}) {
	pg, _ := src["global"].(map[string]interface{})
	dg, _ := dest["global"].(map[string]interface{})
	if dg == nil {
		dg = map[string]interface{}{}
	}
	dest["global"] = mergeMaps(dg, deepCopyMap(pg))
}

func deepCopyMap(m map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(m))
	for k, v := range m {
		out[k] = deepCopy(v)
	}
	return out
}

func deepCopy(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		return deepCopyMap(t)
	case []interface{}:
		out := make([]interface{}, len(t))
		for i, x := range t {
			out[i] = deepCopy(x)
		}
		return out
	default:
		return v
	}
}

// validateChartValues checks values against values.schema.json of the chart and of each subchart (under its
// key), with the same JSON Schema library and the same message format as Helm 3.
func validateChartValues(c *Chart, values map[string]interface{}) error {
	var sb strings.Builder
	var walk func(c *Chart, v map[string]interface{})
	walk = func(c *Chart, v map[string]interface{}) {
		if len(c.Schema) > 0 {
			if err := validateAgainstSchema(v, c.Schema); err != nil {
				fmt.Fprintf(&sb, "%s:\n%s", c.Name, err)
			}
		}
		for _, sub := range c.Deps {
			if sv, ok := v[sub.Name].(map[string]interface{}); ok {
				walk(sub, sv)
			}
		}
	}
	walk(c, values)
	if sb.Len() > 0 {
		return fmt.Errorf("values don't meet the specifications of the schema(s) in the following chart(s):\n%s", sb.String())
	}
	return nil
}

func validateAgainstSchema(values map[string]interface{}, schema []byte) error {
	data, err := yaml.Marshal(values)
	if err != nil {
		return err
	}
	valuesJSON, err := yaml.YAMLToJSON(data)
	if err != nil {
		return err
	}
	if bytes.Equal(valuesJSON, []byte("null")) {
		valuesJSON = []byte("{}")
	}
	result, err := gojsonschema.Validate(gojsonschema.NewBytesLoader(schema), gojsonschema.NewBytesLoader(valuesJSON))
	if err != nil {
		return fmt.Errorf("- %s\n", err)
	}
	if result.Valid() {
		return nil
	}
	var lines []string
	for _, e := range result.Errors() {
		lines = append(lines, fmt.Sprintf("- %s\n", e))
	}
	sort.Strings(lines)
	return errors.New(strings.Join(lines, ""))
}

// --- --set parsing (Helm's strvals: a.b=c,d[0]=e,f={x,y}, backslash escapes) ---

type setMode int

const (
	setTyped setMode = iota
	setString
	setFile
)

func parseSet(s string, dest map[string]interface{}, mode setMode) error {
	for _, pair := range splitUnescaped(s, ',', true) {
		if pair == "" {
			continue
		}
		keyEnd := indexUnescaped(pair, '=')
		if keyEnd < 0 {
			return fmt.Errorf("key %q has no value", unescape(pair))
		}
		key, raw := pair[:keyEnd], pair[keyEnd+1:]
		var value interface{}
		switch {
		case mode == setFile:
			data, err := os.ReadFile(unescape(raw))
			if err != nil {
				return err
			}
			value = string(data)
		case strings.HasPrefix(raw, "{") && strings.HasSuffix(raw, "}"):
			items := []interface{}{}
			for _, item := range splitUnescaped(raw[1:len(raw)-1], ',', false) {
				items = append(items, typedValue(unescape(item), mode == setString))
			}
			value = items
		default:
			value = typedValue(unescape(raw), mode == setString)
		}
		if err := setPath(dest, splitUnescaped(key, '.', false), value); err != nil {
			return fmt.Errorf("%s: %w", unescape(key), err)
		}
	}
	return nil
}

// splitUnescaped splits on sep outside backslash escapes (and, when braces is set, outside {...}).
func splitUnescaped(s string, sep byte, braces bool) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\':
			i++
		case braces && s[i] == '{':
			depth++
		case braces && s[i] == '}' && depth > 0:
			depth--
		case s[i] == sep && depth == 0:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

func indexUnescaped(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			continue
		}
		if s[i] == c {
			return i
		}
	}
	return -1
}

func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// typedValue is strvals.typedVal: true/false/null and integers (not starting with 0) are typed.
func typedValue(v string, asString bool) interface{} {
	if asString {
		return v
	}
	switch {
	case strings.EqualFold(v, "true"):
		return true
	case strings.EqualFold(v, "false"):
		return false
	case strings.EqualFold(v, "null"):
		return nil
	case v == "0":
		return int64(0)
	}
	if v != "" && v[0] != '0' {
		if iv, err := strconv.ParseInt(v, 10, 64); err == nil {
			return iv
		}
	}
	return v
}

// setPath sets a value at a key path whose segments may carry list indexes (name[0][1]).
func setPath(dest map[string]interface{}, segments []string, value interface{}) error {
	seg := segments[0]
	name, indexes, err := splitIndexes(seg)
	if err != nil {
		return err
	}
	last := len(segments) == 1
	if len(indexes) == 0 {
		if last {
			dest[name] = value
			return nil
		}
		child, ok := dest[name].(map[string]interface{})
		if !ok {
			child = map[string]interface{}{}
			dest[name] = child
		}
		return setPath(child, segments[1:], value)
	}
	list, _ := dest[name].([]interface{})
	updated, err := setInList(list, indexes, segments[1:], value)
	if err != nil {
		return err
	}
	dest[name] = updated
	return nil
}

func setInList(list []interface{}, indexes []int, rest []string, value interface{}) ([]interface{}, error) {
	i := indexes[0]
	if i > 65536 {
		return nil, fmt.Errorf("index of %d is greater than maximum supported index of 65536", i)
	}
	for len(list) <= i {
		list = append(list, nil)
	}
	switch {
	case len(indexes) > 1:
		inner, _ := list[i].([]interface{})
		updated, err := setInList(inner, indexes[1:], rest, value)
		if err != nil {
			return nil, err
		}
		list[i] = updated
	case len(rest) == 0:
		list[i] = value
	default:
		child, ok := list[i].(map[string]interface{})
		if !ok {
			child = map[string]interface{}{}
			list[i] = child
		}
		if err := setPath(child, rest, value); err != nil {
			return nil, err
		}
	}
	return list, nil
}

func splitIndexes(seg string) (string, []int, error) {
	open := indexUnescaped(seg, '[')
	if open < 0 {
		return unescape(seg), nil, nil
	}
	name := unescape(seg[:open])
	var indexes []int
	rest := seg[open:]
	for rest != "" {
		if rest[0] != '[' {
			return "", nil, fmt.Errorf("unexpected %q after index", rest)
		}
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return "", nil, errors.New("unterminated list index")
		}
		n, err := strconv.Atoi(rest[1:end])
		if err != nil || n < 0 {
			return "", nil, fmt.Errorf("invalid list index %q", rest[1:end])
		}
		indexes = append(indexes, n)
		rest = rest[end+1:]
	}
	return name, indexes, nil
}
