// The api over fetch: bearer token, JSON in and out, errors in the api's own words.
export const state = { token: sessionStorage.getItem("token"), me: null };

export class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

async function failure(response) {
  let detail = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body && body.detail) detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
  } catch (e) { /* not JSON: keep the status line */ }
  return new ApiError(response.status, detail);
}

export async function api(path, { method = "GET", json } = {}) {
  const headers = {};
  if (state.token) headers.Authorization = "Bearer " + state.token;
  const options = { method, headers };
  if (json !== undefined) { headers["Content-Type"] = "application/json"; options.body = JSON.stringify(json); }
  const response = await fetch(path, options);
  if (!response.ok) throw await failure(response);
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.text();
}

// Saves what a route answers as a file; the page notes the last one (name, type, size).
export async function download(path, fallbackName, method = "GET") {
  const response = await fetch(path, { method, headers: { Authorization: "Bearer " + state.token } });
  if (!response.ok) throw await failure(response);
  const disposition = response.headers.get("content-disposition") || "";
  const match = /filename="([^"]+)"/.exec(disposition);
  const name = match ? match[1] : fallbackName;
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url; a.download = name; document.body.appendChild(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  document.body.dataset.lastDownload = JSON.stringify({ name, type: blob.type, size: blob.size });
  return name;
}
