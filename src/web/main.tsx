// The web console's entry: the login form, then the pool view (app.tsx).
import '@picocss/pico/css/pico.min.css';
import './console.css';
import { render } from 'preact';
import { App } from './app.js';

const root = document.getElementById('app');
if (root !== null) render(<App />, root);
