package kustomize_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/wardsec/ward/kustomize"
	"github.com/wardsec/ward/manifest"
)

func ExampleBuild() {
	dir, err := os.MkdirTemp("", "kustomize-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			panic(err)
		}
	}
	write("pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers: [{name: web, image: nginx}]\n")

	// A remote resource is refused before anything runs, at its line.
	write("kustomization.yaml", "resources:\n- pod.yaml\n- https://example.com/app.yaml\n")
	_, err = kustomize.Build(dir, dir, 0)
	var me *manifest.Error
	if errors.As(err, &me) {
		fmt.Println(filepath.Base(me.File), me.Line, errors.Is(err, kustomize.ErrNotLocal))
		fmt.Println(me.Err)
	}

	// Resources only: Ward's loader reads the files, kustomize does not run.
	write("kustomization.yaml", "resources:\n- pod.yaml\n")
	res, err := kustomize.Build(dir, dir, 0)
	fmt.Println(len(res.Files), filepath.Base(res.Files[0]), res.Data == nil, err)

	// A transformation: kustomize builds, offline.
	write("kustomization.yaml", "resources:\n- pod.yaml\nnamespace: shop\n")
	res, err = kustomize.Build(dir, dir, 0)
	set, _ := manifest.Parse(manifest.Options{}, "build", res.Data)
	fmt.Println(res.Files == nil, set.Workloads[0].Namespace+"/"+set.Workloads[0].Name, err)
	// Output:
	// kustomization.yaml 3 true
	// resources: "https://example.com/app.yaml" is a URL: ward does not fetch or run anything a kustomization names outside its tree
	// 1 pod.yaml true <nil>
	// true shop/web <nil>
}
