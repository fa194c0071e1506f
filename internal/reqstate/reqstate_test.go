package reqstate

import (
	"context"
	"testing"
)

type keyA struct{}
type keyB struct{}

func TestSetAndValue(t *testing.T) {
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), keyB{}, "parent"))
	defer cancel()
	if Set(parent, keyA{}, 1) {
		t.Fatal("Set without a request state reported true")
	}
	var c Context
	c.Init(parent)
	child := context.WithValue(&c, keyB{}, "child")
	if !Set(child, keyA{}, 1) || child.Value(keyA{}) != 1 || c.Value(keyA{}) != 1 {
		t.Fatal("a value Set below the state is not seen")
	}
	if !Set(child, keyA{}, 2) || child.Value(keyA{}) != 2 || c.n != 1 {
		t.Fatal("Set does not replace")
	}
	if child.Value(keyB{}) != "child" || c.Value(keyB{}) != "parent" {
		t.Fatal("other keys are not the parent's")
	}
	for i := 1; i < slots; i++ {
		if !Set(&c, i, i) {
			t.Fatalf("slot %d refused", i)
		}
	}
	if Set(&c, "full", 1) || c.Value("full") != nil {
		t.Fatal("a full state accepted a value")
	}
	// Cancellation is the parent's, and a child of the state is
	// cancelled with it without a goroutine of its own.
	cc, ccancel := context.WithCancel(child)
	defer ccancel()
	cancel()
	<-cc.Done()
	if c.Err() != context.Canceled {
		t.Fatal("the state does not carry the parent's cancellation")
	}
}
