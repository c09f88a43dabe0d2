import { useEffect, useState } from 'react';

type Theme = 'system' | 'light' | 'dark';
const KEY = 'wharf.theme';

function stored(): Theme {
  const value = localStorage.getItem(KEY);
  return value === 'light' || value === 'dark' ? value : 'system';
}

/** Follows prefers-color-scheme unless the user picks a theme (kept in localStorage). */
export function ThemeToggle() {
  const [theme, setTheme] = useState<Theme>(stored);
  useEffect(() => {
    if (theme === 'system') {
      delete document.documentElement.dataset.theme;
      localStorage.removeItem(KEY);
    } else {
      document.documentElement.dataset.theme = theme;
      localStorage.setItem(KEY, theme);
    }
  }, [theme]);
  const next: Theme = theme === 'system' ? 'dark' : theme === 'dark' ? 'light' : 'system';
  return (
    <button type="button" className="button small ghost" onClick={() => setTheme(next)} aria-label={`Theme: ${theme}. Switch to ${next}`}>
      {theme === 'system' ? 'Auto' : theme === 'dark' ? 'Dark' : 'Light'} theme
    </button>
  );
}
