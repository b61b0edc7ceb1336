// passbot's Sanity stand-in: the Content Lake HTTP API on 127.0.0.1.
//
// Queries run through groq-js (Sanity's reference GROQ engine) and patches through @sanity/mutator
// (the Studio's patch engine), so a query or a patch means here what it means in production.
//
// Routes (the dataset is private: every request needs `Authorization: Bearer <token>`):
//   GET  /v{version}/data/query/{dataset}?query=…&$param=<JSON>[&perspective=…][&returnQuery=false]
//   POST /v{version}/data/query/{dataset}     {"query", "params"}
//        -> {"ms", "query", "result"}; a query groq-js rejects -> 400 queryParseError.
//        The default perspective is `published` from v2025-02-19 on, `raw` before.
//   POST /v{version}/data/mutate/{dataset}?returnIds&returnDocuments&dryRun&visibility&transactionId
//        {"mutations": [create | createIfNotExists | createOrReplace | delete | patch, …]}
//        -> {"transactionId", "results": [{"id", "operation", "document"?}]}; one transaction,
//        all or nothing; written documents get `_rev` (the transaction id), `_createdAt` and
//        `_updatedAt` (the world's `now` when it has one, else the real clock).
//   GET  /v{version}/data/doc/{dataset}/{id,id,…}  -> {"documents", "omitted"}
// Errors come in Sanity's shapes: 401/404/429 flat {"error", "message", "statusCode"}; query and
// mutation errors nested {"error": {"type", "description", …}} (409 mutationError with items; a
// viewer token gets 403 insufficientPermissionsError for every mutation, dryRun included).
//
// Every API request is counted by method and path template without version and dataset
// ("GET /data/query"). Faults (world-format.md) for the service "sanity" match their `path` as a
// prefix of the request path *without* its /v{version} prefix, e.g. "/data/mutate" or
// "/data/query/production"; `latency_ms` delays every API answer.
//
// The Python sandbox (sandbox/sanity_node.py) starts this program, reads the line
// `LISTENING <port>` from its standard output, and drives it through the private routes under
// /_sandbox/: load (documents, settings, faults), dump (documents, counts, fault counts),
// requests (the counts alone, cheap at any size), queries (the text and params of the latest
// queries received, so tests can check that values arrive only as params), health.
// The program exits when its standard input closes (the Python process ended) or when its parent
// process changes, so it never outlives the sandbox that started it.

import {createServer} from 'node:http'
import {randomBytes} from 'node:crypto'
import {gzipSync} from 'node:zlib'
import {parse, evaluate} from 'groq-js'
import {Mutation} from '@sanity/mutator'

// ------------------------------------------------------------------------------------- state

const state = {
  projectId: 'sandbox',
  dataset: 'production',
  token: null, // the one token accepted; null before the first load
  tokenRole: 'editor', // 'editor' or 'viewer'
  latencyMs: 0,
  now: null, // ISO instant of the world's clock, or null for the real clock
  docs: new Map(), // _id -> document, in the world's order, new documents appended
  seq: new Map(), // _id -> place in the dataset (see views)
  nextSeq: 0,
  views: new Map(), // perspective -> View
  faults: [], // {index, method, path, status, count, delay_ms, retry_after}
  requests: new Map(), // "METHOD /template" -> count
  queries: [], // {query, params} of the latest API queries, oldest first (at most MAX_QUERIES)
  transactionIds: new Set(),
}

// How many received queries `/_sandbox/queries` keeps (tests read what passbot asked).
const MAX_QUERIES = 10_000

const ID_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/
const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'

function randomId(length = 22) {
  const bytes = randomBytes(length)
  let out = ''
  for (const b of bytes) out += ALPHABET[b % ALPHABET.length]
  return out
}

/** The instant the dataset's clock reads: the world's `now` if it has one, else the real clock. */
function nowDate() {
  return state.now ? new Date(state.now) : new Date()
}

/** Sanity writes system timestamps without milliseconds: 2026-11-28T08:00:00Z. */
function nowStamp() {
  return nowDate().toISOString().replace(/\.\d{3}Z$/, 'Z')
}

function isDraftOrVersion(id) {
  return id.startsWith('drafts.') || id.startsWith('versions.')
}

// ------------------------------------------------------------------------------------- views
//
// A view is what queries see under one perspective: `docs` in dataset order, `byId` for `->`
// dereferences and `_id` lookups, and equality indexes by attribute path (see query planning
// below). Every document has a sequence number (`state.seq`): its place in the dataset, kept when
// it is replaced, new documents last. The `raw` and `published` views are kept up to date on every
// write (binary search by sequence number, so a write costs a few splices, whatever the dataset's
// size); the `drafts` view, which rewrites ids, is rebuilt after a write.

function seqOf(doc) {
  return state.seq.get(doc._id) ?? Number.MAX_SAFE_INTEGER
}

/** The first position in `list` (ordered by sequence number) whose number is >= `seq`. */
function positionIn(list, seq) {
  let lo = 0
  let hi = list.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (seqOf(list[mid]) < seq) lo = mid + 1
    else hi = mid
  }
  return lo
}

function removeFrom(list, doc, seq) {
  const at = positionIn(list, seq)
  if (list[at] === doc) list.splice(at, 1)
}

function insertInto(list, doc, seq) {
  list.splice(positionIn(list, seq), 0, doc)
}

class View {
  constructor(docs, includes) {
    this.docs = docs
    this.includes = includes // id -> whether this view holds it; null: not kept up to date
    this.byId = new Map()
    for (const d of docs) this.byId.set(d._id, d)
    this.indexes = new Map() // "a.b" -> {path, strings: Map, others: Map}
  }

  index(path) {
    const name = path.join('.')
    let index = this.indexes.get(name)
    if (index) return index
    index = {path, strings: new Map(), others: new Map()}
    for (const doc of this.docs) addToIndex(index, doc, null)
    this.indexes.set(name, index)
    return index
  }

  /** Follow one write: `before` and `after` are the document's old and new versions (or null). */
  update(id, seq, before, after) {
    if (!this.includes(id)) return
    if (before) {
      removeFrom(this.docs, before, seq)
      this.byId.delete(id)
      for (const index of this.indexes.values()) removeFromIndex(index, before, seq)
    }
    if (after) {
      insertInto(this.docs, after, seq)
      this.byId.set(id, after)
      for (const index of this.indexes.values()) addToIndex(index, after, seq)
    }
  }
}

function bucketOf(index, value, create) {
  let map
  let key
  if (typeof value === 'string') {
    map = index.strings
    key = value
  } else {
    key = indexKey(value)
    if (key === undefined) return null
    map = index.others
  }
  let bucket = map.get(key)
  if (!bucket && create) map.set(key, (bucket = []))
  return bucket || null
}

/** Add `doc` to its bucket: at the end while building (seq null), else in dataset order. */
function addToIndex(index, doc, seq) {
  const bucket = bucketOf(index, valueAt(doc, index.path), true)
  if (!bucket) return
  if (seq === null) bucket.push(doc)
  else insertInto(bucket, doc, seq)
}

function removeFromIndex(index, doc, seq) {
  const bucket = bucketOf(index, valueAt(doc, index.path), false)
  if (bucket) removeFrom(bucket, doc, seq)
}

const PERSPECTIVE_FILTERS = {
  raw: () => true,
  published: (id) => !isDraftOrVersion(id),
}

function view(perspective) {
  let found = state.views.get(perspective)
  if (found) return found
  const all = Array.from(state.docs.values())
  if (perspective in PERSPECTIVE_FILTERS) {
    const includes = PERSPECTIVE_FILTERS[perspective]
    found = new View(
      perspective === 'raw' ? all : all.filter((d) => includes(d._id)),
      includes,
    )
  } else {
    // drafts (previewDrafts): a draft stands in for its published document, under the published id.
    const drafts = new Map()
    for (const d of all) {
      if (d._id.startsWith('drafts.')) drafts.set(d._id.slice('drafts.'.length), d)
    }
    const docs = []
    const seen = new Set()
    for (const d of all) {
      if (d._id.startsWith('versions.')) continue
      const publishedId = d._id.startsWith('drafts.') ? d._id.slice('drafts.'.length) : d._id
      if (seen.has(publishedId)) continue
      seen.add(publishedId)
      const draft = drafts.get(publishedId)
      docs.push(draft ? {...draft, _id: publishedId, _originalId: draft._id} : d)
    }
    found = new View(docs, null)
  }
  state.views.set(perspective, found)
  return found
}

/** Store one write and bring the views up to date. */
function writeDocument(id, doc) {
  const before = state.docs.get(id) || null
  if (!before && !doc) return
  let seq = state.seq.get(id)
  if (seq === undefined) {
    seq = state.nextSeq++
    state.seq.set(id, seq)
  }
  for (const [perspective, v] of state.views) {
    if (v.includes === null) state.views.delete(perspective)
    else v.update(id, seq, before, doc)
  }
  if (doc) {
    state.docs.set(id, doc)
  } else {
    state.docs.delete(id)
    state.seq.delete(id)
  }
}

// ------------------------------------------------------------------------------------- query planning
//
// groq-js evaluates a filter such as *[_type == "subscription" && stripeSessionId == $id] by
// running the whole expression once per document, which costs a few microseconds each: a third
// of a second over 100k documents. So before evaluating, every filter over the whole dataset
// (`*[...]`, also inside projections and sub-queries) whose condition is a chain of `&&` with at
// least one `path == constant` or `path in [constants]` term (constant: a literal or a parameter;
// path: `a` or `a.b.c`) gets, as its base, only the documents that term can match, looked up in a
// hash index of that path. groq-js still evaluates the *whole* condition on those documents, so
// the answer is the same; only documents that cannot match are skipped.

function attributePath(node) {
  if (!node || node.type !== 'AccessAttribute' || typeof node.name !== 'string') return null
  if (node.base === undefined || node.base === null || node.base.type === 'This') return [node.name]
  const head = attributePath(node.base)
  return head ? [...head, node.name] : null
}

/** The index key of a non-string JSON value, or undefined when it cannot be indexed. */
function indexKey(value) {
  if (value === null || value === undefined) return 'null'
  if (typeof value === 'number') return `n${value}`
  if (typeof value === 'boolean') return `b${value}`
  return undefined
}

function valueAt(doc, path) {
  let current = doc
  for (const name of path) {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) return null
    current = current[name]
  }
  return current
}

function indexable(value) {
  return typeof value === 'string' || indexKey(value) !== undefined
}

function constantOf(node, params) {
  if (!node) return {known: false}
  if (node.type === 'Value') return {known: true, value: node.value}
  if (node.type === 'Parameter') return {known: true, value: params[node.name]}
  if (node.type === 'Array' && node.elements.every((e) => !e.isSplat && e.value.type === 'Value')) {
    return {known: true, value: node.elements.map((e) => e.value.value)}
  }
  return {known: false}
}

function conjuncts(node, out) {
  if (node && node.type === 'Group') return conjuncts(node.base, out)
  if (node && node.type === 'And') {
    conjuncts(node.left, out)
    conjuncts(node.right, out)
  } else if (node) {
    out.push(node)
  }
  return out
}

/** Documents in the view's order (dataset order when the view is the whole dataset). */
function ordered(found, v) {
  if (v.includes === null) return v.docs.filter((doc) => found.has(doc))
  return Array.from(found).sort((a, b) => seqOf(a) - seqOf(b))
}

/** The documents one `&&` term can match, or null when the term is not an indexable test.
 *  A `||` of indexable tests is indexable too: the union of what each side can match. */
function candidatesFor(term, v, params) {
  if (term && term.type === 'Group') return candidatesFor(term.base, v, params)
  if (term && term.type === 'Or') {
    const left = candidatesFor(term.left, v, params)
    if (left === null) return null
    const right = candidatesFor(term.right, v, params)
    if (right === null) return null
    return ordered(new Set([...left, ...right]), v)
  }
  if (term.type !== 'OpCall' || (term.op !== '==' && term.op !== 'in')) return null
  let path = attributePath(term.left)
  let constant = constantOf(term.right, params)
  if (term.op === '==' && (!path || !constant.known)) {
    path = attributePath(term.right)
    constant = constantOf(term.left, params)
  }
  if (!path || !constant.known) return null
  const byId = path.length === 1 && path[0] === '_id'
  const lookup = (value) => {
    if (byId) {
      const doc = typeof value === 'string' ? v.byId.get(value) : undefined
      return doc ? [doc] : []
    }
    return bucketOf(v.index(path), value, false) || []
  }
  if (term.op === '==') return indexable(constant.value) ? lookup(constant.value) : null
  if (!Array.isArray(constant.value)) return null
  const wanted = new Set()
  for (const item of constant.value) {
    if (item === null || item === undefined || !indexable(item)) return null
    for (const doc of lookup(item)) wanted.add(doc)
  }
  return ordered(wanted, v)
}

/** Whether a node is a query over the whole dataset that does not depend on the document being
 *  filtered: it starts from `*` and has no `^` anywhere. Such a sub-query has one answer. */
function uncorrelated(node) {
  let root = node
  while (root && root.base && root.type !== 'Everything') root = root.base
  if (!root || root.type !== 'Everything') return false
  const seen = [node]
  while (seen.length) {
    const current = seen.pop()
    if (!current || typeof current !== 'object') continue
    if (current.type === 'Parent') return false
    if (current.type === 'Value') continue
    for (const value of Object.values(current)) if (value && typeof value === 'object') seen.push(value)
  }
  return true
}

/** `x in *[...]...` with an uncorrelated sub-query: evaluate the sub-query once and put its
 *  answer in its place, so the outer filter can use the index (and groq-js does not evaluate
 *  the same sub-query again for every document). Same answer, computed once. */
async function hoistSubqueries(node, v, params) {
  if (Array.isArray(node)) {
    for (const item of node) await hoistSubqueries(item, v, params)
    return
  }
  if (!node || typeof node !== 'object' || node.type === 'Value') return
  if (node.type === 'OpCall' && node.op === 'in' && uncorrelated(node.right)) {
    narrowFilters(node.right, v, params)
    const value = await evaluate(node.right, {
      dataset: v.docs,
      dereference: ({_ref}) => v.byId.get(_ref) ?? null,
      params,
      timestamp: nowDate(),
    })
    node.right = {type: 'Value', value: await value.get()}
    return
  }
  for (const value of Object.values(node)) {
    if (value && typeof value === 'object') await hoistSubqueries(value, v, params)
  }
}

function narrowFilters(node, v, params) {
  if (Array.isArray(node)) {
    for (const item of node) narrowFilters(item, v, params)
    return
  }
  if (!node || typeof node !== 'object' || node.type === 'Value') return // literals: data, not AST
  for (const value of Object.values(node)) {
    if (value && typeof value === 'object') narrowFilters(value, v, params)
  }
  if (node.type === 'Filter' && node.base && node.base.type === 'Everything') {
    let best = null
    for (const term of conjuncts(node.expr, [])) {
      const found = candidatesFor(term, v, params)
      if (found && (best === null || found.length < best.length)) best = found
    }
    if (best !== null) node.base = {type: 'Value', value: best}
  }
}

// ------------------------------------------------------------------------------------- HTTP helpers

const REASONS = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
}

class HttpError extends Error {
  constructor(status, body, headers = {}) {
    super(`HTTP ${status}`)
    this.status = status
    this.body = body
    this.headers = headers
  }
}

/** Sanity's flat error shape (authentication, routing, rate limits). */
function flatError(status, message) {
  return new HttpError(status, {error: REASONS[status] || 'Error', message, statusCode: status})
}

/** Sanity's nested error shape: {"error": {"description", "type", ...}}. */
function nestedError(status, type, description, extra = {}) {
  return new HttpError(status, {error: {description, type, ...extra}})
}

function send(res, status, body, headers = {}) {
  let data = Buffer.from(JSON.stringify(body))
  const extra = {}
  if (data.length >= GZIP_MIN_BYTES && acceptsGzip(res.req)) {
    data = gzipSync(data, {level: 1})
    extra['content-encoding'] = 'gzip'
    extra.vary = 'Accept-Encoding'
  }
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': data.length,
    ...extra,
    ...headers,
  })
  res.end(data)
}

/** Answers of 1 kB or more go gzipped to a client that accepts it, as Sanity's API does. */
const GZIP_MIN_BYTES = 1024

function acceptsGzip(req) {
  const accepted = (req && req.headers['accept-encoding']) || ''
  return accepted.split(',').some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(';')
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='))
    if (coding !== 'gzip' && coding !== '*') return false
    // as sandbox/traffic.py reads it: a weight of 0, or one that is no number, refuses
    return !q || (Number.isFinite(Number(q.slice(2))) && Number(q.slice(2)) !== 0)
  })
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

async function readJson(req) {
  const text = await readBody(req)
  if (!text) return undefined
  try {
    return JSON.parse(text)
  } catch {
    throw nestedError(400, 'httpBadRequest', 'Unable to parse request body as JSON')
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function flag(value) {
  return value === 'true' || value === '1' || value === true
}

// ------------------------------------------------------------------------------------- queries

function apiVersionDate(version) {
  // `v1` is the legacy API (raw perspective), `vX` the experimental one (published).
  if (version === '1') return '2021-03-25'
  if (version === 'X') return '9999-12-31'
  if (/^\d{4}-\d{2}-\d{2}$/.test(version)) {
    // A real calendar date, as Sanity requires: v2025-13-45 or v2025-02-30 are refused.
    const day = new Date(`${version}T00:00:00Z`)
    if (!Number.isNaN(day.getTime()) && day.toISOString().slice(0, 10) === version) return version
  }
  throw nestedError(400, 'httpBadRequest', `Invalid API version: "v${version}"`)
}

function perspectiveFor(version, requested) {
  if (requested === undefined || requested === null || requested === '') {
    // Since v2025-02-19 the default perspective is `published`; before it was `raw`.
    return apiVersionDate(version) >= '2025-02-19' ? 'published' : 'raw'
  }
  if (requested === 'raw' || requested === 'published') return requested
  if (requested === 'drafts' || requested === 'previewDrafts') return 'drafts'
  throw nestedError(400, 'httpBadRequest', `Invalid perspective: "${requested}"`)
}

function collectParameters(node, names) {
  if (Array.isArray(node)) {
    for (const item of node) collectParameters(item, names)
  } else if (node && typeof node === 'object' && node.type !== 'Value') {
    if (node.type === 'Parameter' && typeof node.name === 'string') names.push(node.name)
    for (const value of Object.values(node)) {
      if (value && typeof value === 'object') collectParameters(value, names)
    }
  }
  return names
}

function parseQuery(query, params) {
  let tree
  try {
    tree = parse(query, {params})
  } catch (err) {
    const start = typeof err.position === 'number' ? err.position : 0
    throw nestedError(400, 'queryParseError', err.message, {
      query,
      start,
      end: Math.min(start + 1, query.length),
    })
  }
  for (const name of collectParameters(tree, [])) {
    if (!(name in params)) {
      const at = Math.max(0, query.indexOf(`$${name}`))
      throw nestedError(400, 'queryParseError', `param $${name} referenced, but not provided`, {
        query,
        start: at,
        end: at + name.length + 1,
      })
    }
  }
  return tree
}

/** Evaluate a query over a perspective's view (planned, see above) or over plain `docs`. */
async function runQuery(query, params, perspective, docs = null) {
  const tree = parseQuery(query, params)
  const v = docs === null ? view(perspective) : null
  try {
    if (v) {
      await hoistSubqueries(tree, v, params)
      narrowFilters(tree, v, params)
    }
    const value = await evaluate(tree, {
      dataset: v ? v.docs : docs,
      dereference: v ? ({_ref}) => v.byId.get(_ref) ?? null : undefined,
      params,
      timestamp: nowDate(),
      identity: 'sandbox-token',
      sanity: {projectId: state.projectId, dataset: state.dataset},
    })
    return await value.get()
  } catch (err) {
    if (err instanceof HttpError) throw err
    throw nestedError(400, 'queryExecutionError', String(err && err.message ? err.message : err), {
      query,
    })
  }
}

async function handleQuery(req, res, url, version) {
  let query
  let params = {}
  let options = Object.fromEntries(url.searchParams.entries())
  if (req.method === 'GET') {
    query = url.searchParams.get('query')
    for (const [key, raw] of url.searchParams.entries()) {
      if (!key.startsWith('$')) continue
      try {
        params[key.slice(1)] = JSON.parse(raw)
      } catch {
        throw nestedError(
          400,
          'httpBadRequest',
          `Unable to parse value of "${key}=${raw}". Please quote string values.`,
        )
      }
    }
  } else {
    const body = await readJson(req)
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      throw nestedError(400, 'httpBadRequest', 'Request body must be a JSON object')
    }
    query = body.query
    params = body.params && typeof body.params === 'object' ? body.params : {}
    options = {...options, ...body}
  }
  if (typeof query !== 'string' || query === '') {
    throw nestedError(400, 'httpBadRequest', 'Missing query parameter "query"')
  }
  state.queries.push({query, params})
  if (state.queries.length > MAX_QUERIES) state.queries.splice(0, state.queries.length - MAX_QUERIES)
  const started = process.hrtime.bigint()
  const perspective = perspectiveFor(version, options.perspective)
  const result = await runQuery(query, params, perspective)
  const ms = Number((process.hrtime.bigint() - started) / 1000000n)
  const body = {ms}
  if (options.returnQuery === undefined || flag(options.returnQuery)) body.query = query
  body.result = result === undefined ? null : result
  send(res, 200, body)
}

function handleDoc(res, idsPart) {
  const ids = decodeURIComponent(idsPart).split(',').filter(Boolean)
  const documents = []
  const omitted = []
  for (const id of ids) {
    const doc = state.docs.get(id)
    if (doc) {
      documents.push(doc)
    } else {
      omitted.push({id, reason: 'existence'})
    }
  }
  send(res, 200, {documents, omitted})
}

// ------------------------------------------------------------------------------------- mutations

const PERMISSIONS = {
  create: 'create',
  createIfNotExists: 'create',
  createOrReplace: 'create',
  delete: 'delete',
  patch: 'update',
}

function itemError(index, error) {
  return {index, error}
}

function mutationFailed(items) {
  const first = items[0].error
  return nestedError(409, 'mutationError', `Mutation failed: ${first.description}`, {items})
}

function kindOf(mutation) {
  if (!mutation || typeof mutation !== 'object' || Array.isArray(mutation)) return null
  const keys = Object.keys(mutation)
  if (keys.length !== 1 || !(keys[0] in PERMISSIONS)) return null
  return keys[0]
}

/** A transaction: reads see its own earlier writes; nothing reaches the store until commit. */
class Transaction {
  constructor(id, timestamp) {
    this.id = id
    this.timestamp = timestamp
    this.overlay = new Map() // _id -> document or null (deleted)
  }

  get(id) {
    if (this.overlay.has(id)) return this.overlay.get(id)
    return state.docs.get(id) || null
  }

  put(id, doc) {
    this.overlay.set(id, doc)
  }

  apply(mutations, doc) {
    return new Mutation({mutations, resultRev: this.id, timestamp: this.timestamp}).apply(doc)
  }

  /** The current documents a query-targeted patch or delete sees, overlay included. */
  currentDocs() {
    const out = []
    for (const [id, doc] of state.docs) {
      const current = this.overlay.has(id) ? this.overlay.get(id) : doc
      if (current) out.push(current)
    }
    for (const [id, doc] of this.overlay) {
      if (doc && !state.docs.has(id)) out.push(doc)
    }
    return out
  }

  commit() {
    for (const [id, doc] of this.overlay) writeDocument(id, doc)
  }
}

function checkDocumentBody(index, body, kind) {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw mutationFailed([
      itemError(index, {type: 'invalidDocumentError', description: `${kind} needs a document`}),
    ])
  }
  if (typeof body._type !== 'string' || body._type === '') {
    throw mutationFailed([
      itemError(index, {
        type: 'invalidDocumentError',
        id: body._id,
        description: 'Document is missing required attribute "_type"',
      }),
    ])
  }
}

function checkId(index, id) {
  if (typeof id !== 'string' || id.length > 128 || !ID_PATTERN.test(id)) {
    throw mutationFailed([
      itemError(index, {
        type: 'invalidDocumentIdError',
        id,
        description: `Document ID ${JSON.stringify(id)} is not valid`,
      }),
    ])
  }
}

async function targetsOf(tx, index, spec, kind) {
  if (typeof spec.id === 'string') return [spec.id]
  if (typeof spec.query === 'string') {
    const params = spec.params && typeof spec.params === 'object' ? spec.params : {}
    const matched = await runQuery(spec.query, params, 'raw', tx.currentDocs())
    const list = Array.isArray(matched) ? matched : matched ? [matched] : []
    return list.filter((d) => d && typeof d._id === 'string').map((d) => d._id)
  }
  throw mutationFailed([
    itemError(index, {type: 'invalidMutationError', description: `${kind} needs an "id" or a "query"`}),
  ])
}

async function runMutation(tx, index, mutation, results) {
  const kind = kindOf(mutation)
  if (!kind) {
    throw nestedError(400, 'validationError', `Mutation ${index} is not one of create, createIfNotExists, createOrReplace, delete, patch`)
  }
  const spec = mutation[kind]
  if (kind === 'create' || kind === 'createIfNotExists' || kind === 'createOrReplace') {
    checkDocumentBody(index, spec, kind)
    const body = structuredClone(spec)
    if (kind === 'create') {
      if (body._id === undefined) body._id = randomId()
      else if (typeof body._id === 'string' && body._id.endsWith('.')) body._id += randomId()
    }
    checkId(index, body._id)
    const existing = tx.get(body._id)
    if (kind === 'create' && existing) {
      throw mutationFailed([
        itemError(index, {
          type: 'documentAlreadyExistsError',
          id: body._id,
          description: `Document by ID "${body._id}" already exists`,
        }),
      ])
    }
    if (kind === 'createIfNotExists' && existing) {
      results.push({id: body._id, operation: 'none', document: existing})
      return
    }
    delete body._rev
    delete body._updatedAt
    if (kind === 'createOrReplace' && existing && existing._createdAt && !spec._createdAt) {
      body._createdAt = existing._createdAt
    }
    const doc = tx.apply([{[kind]: body}], null)
    tx.put(doc._id, doc)
    results.push({id: doc._id, operation: existing ? 'update' : 'create', document: doc})
    return
  }
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) {
    throw nestedError(400, 'validationError', `Mutation ${index}: ${kind} needs an object`)
  }
  const ids = await targetsOf(tx, index, spec, kind)
  if (kind === 'delete') {
    for (const id of ids) {
      const existing = tx.get(id)
      tx.put(id, null)
      results.push({id, operation: existing ? 'delete' : 'none', document: existing})
    }
    return
  }
  // patch
  const {id: _ignoredId, query: _q, params: _p, ifRevisionID, ...operations} = spec
  for (const id of ids) {
    const existing = tx.get(id)
    if (!existing) {
      throw mutationFailed([
        itemError(index, {
          type: 'documentNotFoundError',
          id,
          description: `Document "${id}" not found`,
        }),
      ])
    }
    if (ifRevisionID !== undefined && ifRevisionID !== existing._rev) {
      throw mutationFailed([
        itemError(index, {
          type: 'documentRevisionIDDoesNotMatchError',
          id,
          currentRevisionID: existing._rev ?? null,
          expectedRevisionID: ifRevisionID,
          description: `Document "${id}" has unexpected revision ID ("${existing._rev}"), expected "${ifRevisionID}"`,
        }),
      ])
    }
    let doc
    try {
      doc = tx.apply([{patch: {...operations, id}}], structuredClone(existing))
    } catch (err) {
      throw mutationFailed([
        itemError(index, {type: 'invalidPatchError', id, description: String(err.message || err)}),
      ])
    }
    doc._id = id
    tx.put(id, doc)
    results.push({id, operation: 'update', document: doc})
  }
}

async function handleMutate(req, res, url) {
  const body = await readJson(req)
  if (!body || typeof body !== 'object' || !Array.isArray(body.mutations)) {
    throw nestedError(400, 'validationError', 'Request body must be {"mutations": [...]}')
  }
  const options = url.searchParams
  const visibility = options.get('visibility')
  if (visibility !== null && !['sync', 'async', 'deferred'].includes(visibility)) {
    throw nestedError(400, 'httpBadRequest', `Invalid visibility: "${visibility}"`)
  }
  const mutations = body.mutations
  if (state.tokenRole !== 'editor') {
    const items = mutations.map((m, index) => {
      const permission = PERMISSIONS[kindOf(m)] || 'update'
      return itemError(index, {
        type: 'insufficientPermissionsError',
        permission,
        description: `Insufficient permissions; permission "${permission}" required`,
      })
    })
    const permission = items.length ? items[0].error.permission : 'update'
    throw nestedError(
      403,
      'mutationError',
      `transaction failed: Insufficient permissions; permission "${permission}" required`,
      {items},
    )
  }
  let txId = options.get('transactionId')
  if (txId !== null) {
    if (state.transactionIds.has(txId)) {
      throw nestedError(409, 'transactionIdAlreadyExistsError', `Transaction ID "${txId}" already exists`)
    }
  } else {
    txId = randomId()
  }
  const tx = new Transaction(txId, nowStamp())
  const results = []
  for (let index = 0; index < mutations.length; index++) {
    await runMutation(tx, index, mutations[index], results)
  }
  const dryRun = flag(options.get('dryRun'))
  if (!dryRun) {
    tx.commit()
    state.transactionIds.add(txId)
  }
  const returnDocuments = flag(options.get('returnDocuments'))
  send(res, 200, {
    transactionId: txId,
    results: results.map(({id, operation, document}) =>
      returnDocuments ? {id, operation, document: document || null} : {id, operation},
    ),
  })
}

// ------------------------------------------------------------------------------------- the service

function count(key) {
  state.requests.set(key, (state.requests.get(key) || 0) + 1)
}

function findFault(method, path) {
  for (const fault of state.faults) {
    if (fault.count !== null && fault.count !== undefined && fault.count <= 0) continue
    if (fault.method && fault.method.toUpperCase() !== method) continue
    if (fault.path && !path.startsWith(fault.path)) continue
    return fault
  }
  return null
}

function checkAuth(req) {
  const header = req.headers.authorization || ''
  const match = /^Bearer\s+(.+)$/i.exec(header)
  if (!match) throw flatError(401, 'Not authorized: this dataset is private and needs a token')
  if (match[1].trim() !== state.token) throw flatError(401, 'Session not found')
}

function checkDataset(dataset) {
  if (dataset !== state.dataset) {
    throw flatError(404, `Dataset "${dataset}" not found for project ID "${state.projectId}"`)
  }
}

async function serveApi(req, res, url) {
  // /v{version}/data/{endpoint}/{dataset}[/{rest}]
  const match = /^\/v([^/]+)(\/.*)$/.exec(url.pathname)
  const versionless = match ? match[2] : url.pathname
  const route = /^\/data\/(query|mutate|doc)\/([^/]+)(?:\/(.*))?$/.exec(versionless)
  const template = route ? `${req.method} /data/${route[1]}` : `${req.method} ${versionless}`
  count(template)

  const fault = findFault(req.method, versionless)
  if (fault && fault.count !== null && fault.count !== undefined) fault.count -= 1
  const delay = state.latencyMs + (fault && fault.delay_ms ? fault.delay_ms : 0)
  if (delay > 0) await sleep(delay)
  if (fault && fault.status !== null && fault.status !== undefined) {
    if (fault.status === 0) {
      req.socket.destroy()
      return
    }
    const headers = {}
    if (fault.retry_after !== null && fault.retry_after !== undefined) {
      headers['retry-after'] = String(fault.retry_after)
    }
    const message =
      fault.status === 429 ? 'API rate limit exceeded' : `Sandbox fault: HTTP ${fault.status}`
    send(res, fault.status, flatError(fault.status, message).body, headers)
    return
  }

  if (!match || !route) throw flatError(404, `No route for ${req.method} ${url.pathname}`)
  const [, endpoint, dataset, rest] = route
  const version = match[1]
  apiVersionDate(version)
  checkAuth(req)
  checkDataset(dataset)
  if (endpoint === 'query' && (req.method === 'GET' || req.method === 'POST')) {
    return handleQuery(req, res, url, version)
  }
  if (endpoint === 'mutate' && req.method === 'POST') return handleMutate(req, res, url)
  if (endpoint === 'doc' && req.method === 'GET' && rest) return handleDoc(res, rest)
  throw flatError(404, `No route for ${req.method} ${url.pathname}`)
}

// ------------------------------------------------------------------------------------- control routes

async function load(body) {
  if (!body || typeof body !== 'object') throw nestedError(400, 'httpBadRequest', 'load needs an object')
  const docs = new Map()
  const documents = Array.isArray(body.documents) ? body.documents : []
  documents.forEach((doc, i) => {
    if (!doc || typeof doc !== 'object' || Array.isArray(doc)) {
      throw nestedError(400, 'worldError', `sanity.documents[${i}] is not an object`)
    }
    if (typeof doc._id !== 'string' || doc._id === '') {
      throw nestedError(400, 'worldError', `sanity.documents[${i}] has no string _id`)
    }
    if (docs.has(doc._id)) {
      throw nestedError(400, 'worldError', `sanity.documents[${i}]: duplicate _id ${JSON.stringify(doc._id)}`)
    }
    docs.set(doc._id, doc)
  })
  state.projectId = String(body.project_id ?? 'sandbox')
  state.dataset = String(body.dataset ?? 'production')
  state.token = String(body.token ?? '')
  state.tokenRole = body.token_role === 'viewer' ? 'viewer' : 'editor'
  state.latencyMs = Number(body.latency_ms) || 0
  state.now = typeof body.now === 'string' && !Number.isNaN(Date.parse(body.now)) ? body.now : null
  state.docs = docs
  state.seq = new Map()
  let n = 0
  for (const id of docs.keys()) state.seq.set(id, n++)
  state.nextSeq = n
  state.views = new Map()
  view('published').index(['_type']) // ready for the first query
  state.faults = Array.isArray(body.faults) ? body.faults : []
  state.requests = new Map()
  state.queries = []
  state.transactionIds = new Set()
  return {ok: true, documents: docs.size}
}

function dump() {
  return {
    documents: Array.from(state.docs.values()),
    requests: Object.fromEntries(state.requests),
    faults: state.faults.map((f) => ({index: f.index, count: f.count ?? null})),
  }
}

async function serveControl(req, res, url) {
  if (url.pathname === '/_sandbox/load' && req.method === 'POST') {
    const text = await readBody(req)
    let body
    try {
      body = JSON.parse(text)
    } catch {
      throw nestedError(400, 'httpBadRequest', 'load body is not JSON')
    }
    return send(res, 200, await load(body))
  }
  if (url.pathname === '/_sandbox/write' && req.method === 'POST') {
    // Another client's writes (the platform's webhook): createIfNotExists, not counted.
    let body
    try {
      body = JSON.parse(await readBody(req))
    } catch {
      throw nestedError(400, 'httpBadRequest', 'write body is not JSON')
    }
    const documents = Array.isArray(body && body.documents) ? body.documents : []
    let written = 0
    for (const doc of documents) {
      if (!doc || typeof doc._id !== 'string' || !ID_PATTERN.test(doc._id)) continue
      if (state.docs.has(doc._id)) continue
      const stamp = nowStamp()
      writeDocument(doc._id, {_createdAt: stamp, _updatedAt: stamp, ...doc, _rev: randomId()})
      written++
    }
    return send(res, 200, {ok: true, written})
  }
  if (url.pathname === '/_sandbox/dump' && req.method === 'GET') return send(res, 200, dump())
  if (url.pathname === '/_sandbox/requests' && req.method === 'GET') {
    return send(res, 200, {requests: Object.fromEntries(state.requests)})
  }
  if (url.pathname === '/_sandbox/queries' && req.method === 'GET') {
    return send(res, 200, {queries: state.queries})
  }
  if (url.pathname === '/_sandbox/health' && req.method === 'GET') return send(res, 200, {ok: true})
  throw flatError(404, `No route for ${req.method} ${url.pathname}`)
}

const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1')
  const handler = url.pathname.startsWith('/_sandbox/') ? serveControl : serveApi
  Promise.resolve()
    .then(() => handler(req, res, url))
    .catch((err) => {
      if (res.headersSent || res.destroyed) return
      if (err instanceof HttpError) return send(res, err.status, err.body, err.headers)
      process.stderr.write(`sandbox sanity: ${err && err.stack ? err.stack : err}\n`)
      send(res, 500, flatError(500, 'Internal error in the Sanity sandbox').body)
    })
})
server.keepAliveTimeout = 30_000

const portArg = process.argv.indexOf('--port')
const port = portArg >= 0 ? Number(process.argv[portArg + 1]) : 0

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`LISTENING ${server.address().port}\n`)
})

// Die with the Python process: its end of our stdin closes when it exits, and our parent changes
// if it is killed outright.
process.stdin.on('end', () => process.exit(0))
process.stdin.on('error', () => process.exit(0))
process.stdin.resume()
const parentPid = process.ppid
setInterval(() => {
  if (process.ppid !== parentPid) process.exit(0)
}, 1000).unref()
process.on('SIGTERM', () => process.exit(0))
process.on('SIGINT', () => process.exit(0))
