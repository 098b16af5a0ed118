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
func (r *router) match(method, path string) ([]*route, map[string]string) {
	segs := splitPath(path)
	var best []*route
	var bestParams map[string]string
	bestScore := -1
	for _, rt := range r.routes {
		if rt.method != method || len(rt.segs) != len(segs) {
			continue
		}
		params := map[string]string{}
		score := 0
		ok := true
		for i, s := range rt.segs {
			if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
				params[s[1:len(s)-1]] = segs[i]
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
			best, bestParams, bestScore = []*route{rt}, params, score
		case score == bestScore:
			best = append(best, rt)
		}
	}
	return best, bestParams
}
