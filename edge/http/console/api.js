// Calls to the device's API with the key typed at sign-in (sessionStorage, sent as x-api-key).
const STORE = "yolo-edge-key";

export const key = () => sessionStorage.getItem(STORE) || "";
export const setKey = (k) => (k ? sessionStorage.setItem(STORE, k) : sessionStorage.removeItem(STORE));

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

// The JSON answer of `path` and the response headers; an ApiError carrying the device's own
// message when it refuses.
export async function request(path, { method = "GET", body, headers = {}, apiKey = key() } = {}) {
  const response = await fetch(path, { method, body, headers: { "x-api-key": apiKey, ...headers } });
  const text = await response.text();
  let data;
  try { data = JSON.parse(text); } catch { data = null; }
  if (!response.ok) {
    const message = (data && (data.message || data.error)) || text || response.statusText;
    throw new ApiError(response.status, `${response.status}: ${message}`);
  }
  return { data, headers: response.headers };
}

export const api = async (path, options) => (await request(path, options)).data;

// "decode;dur=1.20, inference;dur=40.1" (Server-Timing) -> [["decode", 1.2], ["inference", 40.1]]
export const serverTiming = (header) => (header || "").split(",").map((part) => part.trim().split(";dur="))
  .filter(([name, ms]) => name && ms !== undefined).map(([name, ms]) => [name, Number(ms)]);

// A binary answer (a camera snapshot) as an object URL for an <img>.
export async function blobUrl(path) {
  const response = await fetch(path, { headers: { "x-api-key": key() } });
  if (!response.ok) throw new ApiError(response.status, `${response.status}: ${response.statusText}`);
  return URL.createObjectURL(await response.blob());
}
