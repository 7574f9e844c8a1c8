module.exports = { displayName: 'plugins-search', preset: '../../jest.preset.cjs' };
