package api

import (
	"strings"
)

// route is one API of the table: its ZStack name, and how it is served.
type route struct {
	api     string   // ZStack API name, e.g. "CreateZone"
	method  string   // from api.tsv
	segs    []string // path segments under /zstack/v1; "{x}" is a parameter
	bodyKey string   // "params", an action key, or "" (none)
	serve   handlerFunc
}

// router matches method + path to routes. ZStack reuses one URL for
// several actions (told apart by the body key) and names path parameters
// differently at one position (/zones/{uuid}/actions vs
// /zones/{zoneUuid}/backup-storage/...), which is why this is not gin's tree.
type router struct {
	routes []*route
}

func splitPath(p string) []string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		if s != "" { // also tolerates the Go SDK's "zones//uuid"
			out = append(out, s)
		}
	}
	return out
}

// match returns the routes for method and path with their path params,
// preferring static segments over parameters.
func (r *router) match(method, path string) []*route {
	segs := splitPath(path)
	var best []*route
	bestScore := -1
	for _, rt := range r.routes {
		if rt.method != method || len(rt.segs) != len(segs) {
			continue
		}
		score := 0
		ok := true
		for i, s := range rt.segs {
			if isParam(s) {
				continue
			}
			if s != segs[i] {
				ok = false
				break
			}
			score += 1 << (len(segs) - i) // earlier static segments weigh more
		}
		if !ok {
			continue
		}
		switch {
		case score > bestScore:
			best, bestScore = []*route{rt}, score
		case score == bestScore:
			best = append(best, rt)
		}
	}
	return best
}

func isParam(seg string) bool { return strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") }

// pathParams reads a matched path's parameters under the names the chosen
// route gives them (routes sharing a URL may name them differently:
// {uuid} and {vmInstanceUuid} on PUT /vm-instances/.../actions).
func (rt *route) pathParams(path string) map[string]string {
	segs := splitPath(path)
	params := map[string]string{}
	for i, s := range rt.segs {
		if isParam(s) && i < len(segs) {
			params[s[1:len(s)-1]] = segs[i]
		}
	}
	return params
}
