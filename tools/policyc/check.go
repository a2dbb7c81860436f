package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/loader"
)

// check parses and compiles Rego as `opa check` does, type-checking every reference to `input` against a JSON
// Schema with --schema (a file: the schema of the whole input document, as `opa check --schema FILE`). A
// misspelt input field is then a compile error naming the field and the ones the schema has, where without
// a schema it is an undefined value at run time. Exit 1 on any error, as opa does; errors go to stderr.
func check(args []string) error {
	fset := flag.NewFlagSet("check", flag.ContinueOnError)
	capsFile := fset.String("capabilities", "", "capabilities.json to check against")
	schemaFile := fset.String("schema", "", "JSON Schema of the input document")
	maxErrors := fset.Int("max-errors", 10, "stop after this many errors (0: no limit)")
	var ignore stringList
	fset.Var(&ignore, "ignore", "file name glob to leave out, e.g. '*_test.rego' (repeatable)")
	fset.IntVar(maxErrors, "m", 10, "same as --max-errors")
	fset.StringVar(schemaFile, "s", "", "same as --schema")
	paths, err := parse(fset, args)
	if err != nil {
		return err
	}
	caps, err := loadCapabilities(*capsFile)
	if err != nil {
		return err
	}
	var schemas *ast.SchemaSet
	if *schemaFile != "" {
		if schemas, err = loader.Schemas(*schemaFile); err != nil {
			return fmt.Errorf("schema %s: %w", *schemaFile, err)
		}
	}
	result, err := loader.NewFileLoader().
		WithRegoVersion(ast.RegoV1).
		WithCapabilities(caps).
		WithProcessAnnotation(true).
		Filtered(paths, ignoreFilter(ignore))
	if err != nil {
		return err
	}
	modules := map[string]*ast.Module{}
	for _, m := range result.Modules {
		modules[m.Name] = m.Parsed
	}
	compiler := ast.NewCompiler().
		WithCapabilities(caps).
		WithSchemas(schemas).
		WithEnablePrintStatements(true). // as opa check: print() must then be among the capabilities' builtins
		WithUseTypeCheckAnnotations(true).
		SetErrorLimit(*maxErrors)
	if compiler.Compile(modules); compiler.Failed() {
		fmt.Fprintln(os.Stderr, compiler.Errors.Error())
		return exitError{1}
	}
	return nil
}
