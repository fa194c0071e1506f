package firewall

import "fmt"

// Changes lists how next differs from prev, without the kernel, in the
// form and order of Diff: "+ " what next adds, "- " what it removes, "~ "
// what it changes. A nil prev is an empty table. `ward fw run` logs this
// between its syncs instead of reading the live table back before each
// one, which on a host of 10,000 containers takes seconds.
func Changes(prev, next *Ruleset) []string {
	if prev == nil {
		prev = &Ruleset{}
	}
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	for _, s := range next.Sets {
		if old := prev.Set(s.Name); old == nil {
			add("+ set %s (%d elements)", s.Name, len(s.Elements))
		} else {
			out = append(out, elementChanges("set", s.Name, old.elementStrings(), s.elementStrings())...)
		}
	}
	for _, s := range prev.Sets {
		if next.Set(s.Name) == nil {
			add("- set %s", s.Name)
		}
	}
	for _, m := range next.Maps {
		if old := prev.Map(m.Name); old == nil {
			add("+ map %s (%d elements)", m.Name, len(m.Elements))
		} else {
			out = append(out, elementChanges("map", m.Name, old.elementStrings(), m.elementStrings())...)
		}
	}
	for _, m := range prev.Maps {
		if next.Map(m.Name) == nil {
			add("- map %s", m.Name)
		}
	}
	for _, m := range next.MarkMaps {
		if old := prev.MarkMap(m.Name); old == nil {
			add("+ map %s (%d elements)", m.Name, len(m.Elements))
		} else {
			out = append(out, elementChanges("map", m.Name, old.elementStrings(), m.elementStrings())...)
		}
	}
	for _, m := range prev.MarkMaps {
		if next.MarkMap(m.Name) == nil {
			add("- map %s", m.Name)
		}
	}
	for _, f := range Families {
		out = append(out, setChanges(SetSelf+f.suffix(), selfElements(prev.Self, f), selfElements(next.Self, f))...)
	}
	out = append(out, setChanges(SetBridges, bridgeElements(prev.Bridges), bridgeElements(next.Bridges))...)
	for _, c := range next.Chains {
		old := prev.Chain(c.Name)
		if old == nil {
			add("+ chain %s (%d rules)", c.Name, len(c.Rules))
			continue
		}
		if old.Hook != c.Hook || old.Priority != c.Priority {
			add("~ chain %s: hook, priority or policy differ", c.Name)
		}
		out = append(out, ruleChanges(c.Name, c.Rules, len(old.Rules), func(j int) bool { return old.Rules[j].String() == c.Rules[j].String() })...)
	}
	for _, c := range prev.Chains {
		if next.Chain(c.Name) == nil {
			add("- chain %s", c.Name)
		}
	}
	switch {
	case len(prev.Bindings) == 0 && len(next.Bindings) > 0:
		add("+ table %s %s (not loaded)", BridgeFamily, TableName)
	case len(prev.Bindings) > 0 && len(next.Bindings) == 0:
		add("- table %s %s", BridgeFamily, TableName)
	case len(next.Bindings) > 0:
		p1, p4, p6, pm := bindingElements(prev.Bindings)
		n1, n4, n6, nm := bindingElements(next.Bindings)
		out = append(out, elementChanges("set", BridgePorts, p1, n1)...)
		out = append(out, elementChanges("set", BridgeAddrs4, p4, n4)...)
		out = append(out, elementChanges("set", BridgeAddrs6, p6, n6)...)
		out = append(out, elementChanges("map", BridgeMarks, pm, nm)...)
		_, pp, pb := macElements(prev.Bindings)
		_, np, nb := macElements(next.Bindings)
		out = append(out, setChanges(BridgeMACs, pp, np)...)
		out = append(out, setChanges(BridgeBoundMACs, pb, nb)...)
	}
	switch {
	case !prev.closed() && next.closed():
		add("+ table %s %s (not loaded)", ARPFamily, TableName)
	case prev.closed() && !next.closed():
		add("- table %s %s", ARPFamily, TableName)
	case next.closed():
		out = append(out, elementChanges("set", SetBridges, bridgeElements(prev.Bridges), bridgeElements(next.Bridges))...)
	}
	return out
}

// setChanges lists how a set of strings, absent when empty, changes from
// p to n.
func setChanges(name string, p, n []string) []string {
	switch {
	case len(p) == 0 && len(n) > 0:
		return []string{fmt.Sprintf("+ set %s (%d elements)", name, len(n))}
	case len(p) > 0 && len(n) == 0:
		return []string{"- set " + name}
	case len(n) > 0:
		return elementChanges("set", name, p, n)
	}
	return nil
}
