// The console's entry point: sign-in, then the tabs (Try it, Models, Cameras, Service).
import { api, key, setKey } from "./api.js";
import { showCameras, stopCameras } from "./cameras.js";
import { renderModels, setupModels } from "./models.js";
import { showService, stopService } from "./service.js";
import { loadModels, setupTry } from "./try.js";

const $ = (id) => document.getElementById(id);

async function refreshModels() {
  const models = await loadModels();
  renderModels(models, refreshModels);
}

function showTab(name) {
  for (const section of document.querySelectorAll(".tab")) section.hidden = section.id !== name;
  for (const b of document.querySelectorAll("#tabs [data-tab]")) b.classList.toggle("active", b.dataset.tab === name);
  if (name === "service") showService(); else stopService();
  if (name === "cameras-tab") showCameras(); else stopCameras(); // leaving closes the streams
}

async function signIn(candidate) {
  try {
    await api("/v1/models", { apiKey: candidate }); // the cheapest call that checks the key
  } catch (err) {
    setKey("");
    $("signin-error").textContent = err.status === 401
      ? `This key was refused (${err.message}). Check it against the device's api_keys file.`
      : err.message;
    return;
  }
  setKey(candidate);
  $("signin-error").textContent = "";
  $("signin").hidden = true;
  $("tabs").hidden = false;
  showTab("try");
  await refreshModels();
}

function signOut() {
  setKey("");
  location.reload();
}

setupTry();
setupModels(refreshModels);
$("signin-form").addEventListener("submit", (e) => { e.preventDefault(); signIn($("key").value.trim()); });
$("signout").addEventListener("click", signOut);
for (const b of document.querySelectorAll("#tabs [data-tab]")) b.addEventListener("click", () => showTab(b.dataset.tab));
if (key()) signIn(key());
